from odoo import fields, models


class ResPartner(models.Model):
    _name = "res.partner"
    _inherit = ["res.partner", "lead.scoring.mixin"]
    _lead_scoring_target = "contact"
    _lead_scoring_score_field = "contact_score"
    _lead_scoring_band_field = "contact_band_id"

    contact_score = fields.Float(
        readonly=True,
        index=True,
        copy=False,
        default=0.0,
        groups="lead_scoring.group_lead_scoring_user",
        help="Score in the first active contact scoring model of this contact's company.",
    )
    contact_band_id = fields.Many2one(
        "lead.scoring.band",
        "Contact Score Band",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="set null",
        groups="lead_scoring.group_lead_scoring_user",
        help="Band of the contact score.",
    )
    lead_score_ids = fields.One2many(
        "lead.scoring.score",
        "partner_id",
        string="Scores",
        groups="lead_scoring.group_lead_scoring_user",
    )
    lead_scoring_point_ids = fields.One2many(
        "lead.scoring.point",
        "partner_id",
        string="Score History",
        groups="lead_scoring.group_lead_scoring_user",
    )

    def _children_sync(self, values):
        # A score belongs to one contact: nothing to pass on to its contacts.
        # (Odoo would otherwise walk and rewrite every company's contacts.)
        if values.keys() <= set(self._lead_scoring_fields()):
            return
        return super()._children_sync(values)
