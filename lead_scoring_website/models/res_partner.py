from odoo import api, models

# Records of the website that lead to a contact through its visitor.
VISITOR_MODELS = ("website.track", "website.visitor")


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

    @api.model
    def _lead_scoring_find_targets(self, records):
        # A visitor's contact may be the one of its newest lead: one by one.
        if records._name not in VISITOR_MODELS:
            return super()._lead_scoring_find_targets(records)
        targets = {}
        for record in records:
            contact = self._lead_scoring_find_target(record)
            if contact:
                targets[record.id] = contact.id
        return targets
