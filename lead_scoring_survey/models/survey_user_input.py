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
        """Fire the "Survey completed" lines on these participations: one
        ``_fire`` per line over all of them. Test entries never score.
        Without such a line this costs no query (the lines are cached)."""
        Automation = self.env["lead.scoring.automation"].sudo()
        line_filters = self and Automation._survey_line_filters()
        if not line_filters:
            return
        user_inputs = self.sudo().filtered(lambda user_input: not user_input.test_entry)
        for line_id, survey_ids, min_percentage in line_filters:
            line_inputs = user_inputs
            if survey_ids:
                line_inputs = line_inputs.filtered(
                    lambda user_input, survey_ids=survey_ids: user_input.survey_id.id in survey_ids
                )
            if min_percentage:
                line_inputs = line_inputs.filtered(
                    lambda user_input, minimum=min_percentage: (
                        user_input.survey_id.scoring_type != "no_scoring"
                        and user_input.scoring_percentage >= minimum
                    )
                )
            if line_inputs:
                Automation.browse(line_id)._fire(line_inputs, once=True)
