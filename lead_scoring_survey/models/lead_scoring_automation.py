from odoo import api, fields, models
from odoo.exceptions import ValidationError

# Fields of a line that the core's cached trigger lines read.
LINE_FILTER_FIELDS = {"survey_ids", "survey_min_percentage"}


class LeadScoringAutomation(models.Model):
    """Completed surveys as a trigger of the scoring model's Automations tab.

    Its lines run on participations (``survey.user_input``, set by the
    trigger) and own only their "Adjust score" action: a participation that
    becomes done fires them (see ``survey.user_input._lead_scoring_track``),
    once per participation and line.
    """

    _inherit = "lead.scoring.automation"

    trigger = fields.Selection(
        selection_add=[("survey_completed", "Survey completed")],
        ondelete={"survey_completed": "cascade"},
    )
    survey_ids = fields.Many2many(
        "survey.survey",
        "lead_scoring_automation_survey_rel",
        "automation_id",
        "survey_id",
        string="Surveys",
        groups="survey.group_survey_user",
        help="Only participations in these surveys. Empty: every survey.",
    )
    survey_min_percentage = fields.Float(
        "Minimum Score (%)",
        help="When set, only participations in scored surveys that reach this "
        "percentage of the points. 0: every completed participation.",
    )

    @api.constrains("survey_min_percentage")
    def _check_survey_min_percentage(self):
        for line in self:
            if not 0 <= line.survey_min_percentage <= 100:
                raise ValidationError(
                    self.env._(
                        'Trigger "%(name)s": the minimum score is a percentage, from 0 to 100.',
                        name=line.name,
                    )
                )

    @api.model
    def _cached_line_fields(self):
        return super()._cached_line_fields() | LINE_FILTER_FIELDS

    @api.model
    def _event_triggers(self):
        return super()._event_triggers() | {"survey_completed"}

    @api.model
    def _code_trigger_models(self):
        return dict(super()._code_trigger_models(), survey_completed="survey.user_input")

    def _trigger_filters(self):
        if self.trigger == "survey_completed":
            return {
                "survey_ids": frozenset(self.survey_ids.ids),
                "survey_min_percentage": self.survey_min_percentage,
            }
        return super()._trigger_filters()
