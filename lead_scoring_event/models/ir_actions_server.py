from odoo import models


class IrActionsServer(models.Model):
    """Adjust score on registrations: a ledger reason naming the event (the
    contacts of all the registrations are found at once, an import brings a
    thousand, by ``res.partner._lead_scoring_find_targets``: the
    registration's partner, else the contact with its e-mail, none created)."""

    _inherit = "ir.actions.server"

    def _lead_scoring_reason(self, record):
        if record._name != "event.registration":
            return super()._lead_scoring_reason(record)
        # "Webinar bijgewoond: Open dag Utrecht"
        return f"{self.base_automation_id.name or self.name}: {record.event_id.name}"
