from odoo import api, fields, models
from odoo.tools import SQL
from odoo.tools.translate import LazyTranslate

from ..engine import closed_opportunities_sql

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
    deal_win_probability = fields.Float(
        "Win Probability (Lab)",
        compute="_compute_deal_win_probability",
        groups="lead_scoring.group_lead_scoring_user",
        help="Chance of winning this deal at its deal score, as the scoring lab "
        "learnt it from the won and lost opportunities (empty until a lab was applied).",
    )
    lead_scoring_threshold_id = fields.Many2one(
        "lead.scoring.threshold",
        "Created by Threshold",
        readonly=True,
        copy=False,
        ondelete="set null",
        index="btree_not_null",
    )

    @api.depends("lead_score_ids.win_probability", "company_id")
    def _compute_deal_win_probability(self):
        for lead in self:
            primary = lead._lead_scoring_primary_model_id()
            score = lead.lead_score_ids.filtered(lambda s, m=primary: s.model_id.id == m)
            lead.deal_win_probability = score.win_probability if score else False

    def _merge_dependences(self, opportunities):
        # The deal-model points of the opportunities merged away count for
        # the one that stays.
        opportunities._lead_scoring_merge_into(self)
        return super()._merge_dependences(opportunities)

    # ------------------------------------------------------------------
    # Scoring lab
    # ------------------------------------------------------------------

    @api.model
    def _lead_scoring_lab_outcomes_sql(self, date_from, date_to):
        # A deal's outcome is its own: every opportunity closed in the window.
        return SQL(
            "SELECT c.lead_id AS id, c.is_won AS won, c.date_closed FROM (%s) c",
            closed_opportunities_sql(date_from, date_to),
        )

    @api.model
    def _lead_scoring_lab_excluded_fields(self):
        # Where the deal stands records its outcome; the salesperson and the
        # customer are people, not segments a rule should single out.
        return super()._lead_scoring_lab_excluded_fields() | {
            "stage_id",
            "lost_reason_id",
            "type",
            "user_id",
            "partner_id",
            "lead_scoring_threshold_id",
            "deal_band_id",
            "iap_enrich_done",
        }
