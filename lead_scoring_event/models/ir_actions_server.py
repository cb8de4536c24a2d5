from odoo import models


class IrActionsServer(models.Model):
    """Adjust score on registrations: the contacts of all the registrations at
    once (an import brings a thousand), and a ledger reason naming the event."""

    _inherit = "ir.actions.server"

    def _lead_scoring_scored_records(self, records, scoring_model):
        if (
            records._name != "event.registration"
            or self.score_target_field
            or scoring_model.target_model != "res.partner"
        ):
            return super()._lead_scoring_scored_records(records, scoring_model)
        candidates = records.sudo()._lead_scoring_contacts()
        company = scoring_model.company_id
        contacts = self.env["res.partner"].sudo().browse(set(candidates.values()))
        allowed = set(
            contacts.filtered(
                lambda contact: (
                    contact.active
                    and (not company or contact.company_id in (company, company.browse()))
                )
            ).ids
        )
        return {
            registration_id: contact_id
            for registration_id, contact_id in candidates.items()
            if contact_id in allowed
        }

    def _lead_scoring_reason(self, record):
        if record._name != "event.registration":
            return super()._lead_scoring_reason(record)
        # "Webinar bijgewoond: Open dag Utrecht"
        return f"{self.base_automation_id.name or self.name}: {record.event_id.name}"
