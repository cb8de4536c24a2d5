from odoo import api, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    @api.model
    def _lead_scoring_find_target(self, record):
        # A trace's recipient: the contact it was sent to, the customer of the
        # lead it was sent to, else the contact with its e-mail (one rule for
        # one trace and for thousands, see mailing.trace._lead_scoring_targets).
        if record._name == "mailing.trace":
            return self.browse(record._lead_scoring_targets(self._name).get(record.id))
        return super()._lead_scoring_find_target(record)

    @api.model
    def _lead_scoring_find_targets(self, records):
        # All the traces at once (a mailing's opens come by the thousand).
        if records._name == "mailing.trace":
            return records._lead_scoring_targets(self._name)
        return super()._lead_scoring_find_targets(records)
