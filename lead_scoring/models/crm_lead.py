from odoo import fields, models
from odoo.tools.translate import LazyTranslate

_lt = LazyTranslate(__name__)


class CrmLead(models.Model):
    _name = "crm.lead"
    _inherit = ["crm.lead", "lead.scoring.mixin"]
    _lead_scoring_target = "deal"
    _lead_scoring_target_label = _lt("Deals")
    _lead_scoring_column = "lead_id"
    _lead_scoring_score_field = "deal_score"
    _lead_scoring_band_field = "deal_band_id"
    _lead_scoring_sequence = 20

    deal_score = fields.Float(
        readonly=True,
        index=True,
        copy=False,
        default=0.0,
        groups="lead_scoring.group_lead_scoring_user",
        help="Score in the first active deal scoring model of this deal's company.",
    )
    deal_band_id = fields.Many2one(
        "lead.scoring.band",
        "Deal Score Band",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="set null",
        groups="lead_scoring.group_lead_scoring_user",
        help="Band of the deal score.",
    )
    partner_contact_score = fields.Float(
        "Contact Score",
        related="partner_id.contact_score",
        groups="lead_scoring.group_lead_scoring_user",
    )
    lead_grade = fields.Char(
        related="partner_id.lead_grade",
        store=True,
        index="btree_not_null",
        groups="lead_scoring.group_lead_scoring_user",
    )
    lead_score_ids = fields.One2many(
        "lead.scoring.score",
        "lead_id",
        string="Scores",
        groups="lead_scoring.group_lead_scoring_user",
    )
    lead_scoring_point_ids = fields.One2many(
        "lead.scoring.point",
        "lead_id",
        string="Score History",
        groups="lead_scoring.group_lead_scoring_user",
    )
    lead_scoring_threshold_id = fields.Many2one(
        "lead.scoring.threshold",
        "Created by Threshold",
        readonly=True,
        copy=False,
        ondelete="set null",
        index="btree_not_null",
    )

    def _merge_dependences(self, opportunities):
        # The deal-model points of the opportunities merged away count for
        # the one that stays.
        opportunities._lead_scoring_merge_into(self)
        return super()._merge_dependences(opportunities)
