from odoo import api, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    @api.model
    def _lead_scoring_find_target(self, record):
        # A page view (or its visitor) scores the visitor's contact.
        if record._name == "website.track":
            record = record.visitor_id
        if record._name == "website.visitor":
            return record._lead_scoring_contact() if record else self.browse()
        return super()._lead_scoring_find_target(record)
