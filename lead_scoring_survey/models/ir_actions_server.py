from odoo import models


class IrActionsServer(models.Model):
    """Adjust score on survey participations: the ledger reason names the survey."""

    _inherit = "ir.actions.server"

    def _lead_scoring_reason(self, record):
        if record._name != "survey.user_input":
            return super()._lead_scoring_reason(record)
        # "Intake-enquête ingevuld ≥ 60%: Intake warmtepomp (80%)"
        reason = f"{self.base_automation_id.name or self.name}: {record.survey_id.title}"
        if record.survey_id.scoring_type != "no_scoring":
            reason = f"{reason} ({record.scoring_percentage:g}%)"
        return reason
