from odoo import models


class SurveyUserInput(models.Model):
    """A participation that becomes done (the participant submits the last
    page, or Odoo closes it) fires the "Survey completed" lines, all the
    participations of a call together, each once per line."""

    _inherit = "survey.user_input"

    def write(self, vals):
        completing = vals.get("state") == "done"
        newly_done = completing and self.filtered(lambda user_input: user_input.state != "done")
        res = super().write(vals)
        if completing:
            newly_done._lead_scoring_track()
        return res

    def _lead_scoring_track(self):
        """Fire the "Survey completed" lines on these participations, all of
        them at once per line. Test entries never score. Without such a line
        this costs no query (the lines are cached)."""
        Automation = self.env["lead.scoring.automation"]
        if self and Automation._trigger_lines("survey_completed"):
            user_inputs = self.sudo().filtered(lambda user_input: not user_input.test_entry)
            Automation._fire_trigger("survey_completed", user_inputs)

    def _lead_scoring_trigger_match(self, filters):
        """The participations a line limited to ``filters`` keeps: those of its
        surveys, and of scored surveys reaching its minimum percentage."""
        survey_ids, minimum = filters["survey_ids"], filters["survey_min_percentage"]
        return self.filtered(
            lambda user_input: (
                (not survey_ids or user_input.survey_id.id in survey_ids)
                and (
                    not minimum
                    or (
                        user_input.survey_id.scoring_type != "no_scoring"
                        and user_input.scoring_percentage >= minimum
                    )
                )
            )
        )
