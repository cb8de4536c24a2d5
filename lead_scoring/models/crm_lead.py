from odoo import api, fields, models
from odoo.tools import SQL
from odoo.tools.translate import LazyTranslate

from .. import demo_data, lab_math
from ..engine import (
    closed_opportunities_sql,
    primary_model_sql,
    restrict_sql,
    win_probability_sql,
)

_lt = LazyTranslate(__name__)

# Fields of an opportunity its revenue forecast depends on (besides its score).
FORECAST_FIELDS = {"expected_revenue", "company_id", "stage_id", "active", "probability"}


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
    deal_win_probability = fields.Float(
        "Win Probability (Lab)",
        compute="_compute_deal_win_probability",
        groups="lead_scoring.group_lead_scoring_user",
        help="Chance of winning this deal at its deal score, as the scoring lab "
        "learnt it from the won and lost opportunities (empty until a lab was applied).",
    )
    lead_scoring_forecast = fields.Monetary(
        "Scoring Forecast",
        currency_field="company_currency",
        readonly=True,
        copy=False,
        aggregator="sum",
        groups="lead_scoring.group_lead_scoring_user",
        help="Expected revenue x the chance of winning this deal at its deal score, as "
        "the scoring lab calibrated it on won and lost opportunities; a won deal counts its "
        "expected revenue, a lost one nothing. 0 until a lab was applied to the deal "
        "scoring model: a score alone is no probability.",
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
        scoring_models = self.env["lead.scoring.model"].sudo()
        primary_ids = self._origin._lead_scoring_primary_model_ids()
        for lead in self:
            primary = scoring_models.browse(primary_ids.get(lead._origin.id))
            score = lead.lead_score_ids.filtered(lambda s, m=primary: s.model_id == m)
            if score:
                lead.deal_win_probability = score.win_probability
            elif primary.date_lab_applied:
                # No point yet: the chance of a deal at score 0.
                lead.deal_win_probability = round(
                    lab_math.win_probability(
                        primary.win_calibration_intercept, primary.win_calibration_slope, 0.0
                    ),
                    2,
                )
            else:
                lead.deal_win_probability = False

    # ------------------------------------------------------------------
    # Revenue forecast
    # ------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        leads = super().create(vals_list)
        leads._lead_scoring_update_forecast(leads.ids)
        return leads

    def write(self, vals):
        res = super().write(vals)
        if FORECAST_FIELDS & vals.keys():
            self._lead_scoring_update_forecast(self.ids)
        return res

    @api.model
    def _lead_scoring_scores_changed(self, scoring_model, target_ids):
        res = super()._lead_scoring_scores_changed(scoring_model, target_ids)
        if scoring_model.date_lab_applied:
            # A score, or the calibration (the lab refreshes every score), changed.
            self._lead_scoring_update_forecast(target_ids)
        return res

    @api.model
    def _lead_scoring_forecast_inputs_changed(self):
        res = super()._lead_scoring_forecast_inputs_changed()
        self._lead_scoring_update_forecast()
        return res

    @api.model
    @api.model
    def _lead_scoring_probability_sql(self, calibrated):
        """The win probability (percent) of a deal's score ``s.score`` in its
        primary model ``p.model_id``, 0 where that model is not among the
        ``calibrated`` ones."""
        if not calibrated:
            return SQL("0.0")
        return SQL(
            "CASE %s ELSE 0.0 END",
            SQL(" ").join(
                SQL(
                    "WHEN p.model_id = %s THEN %s",
                    scoring_model.id,
                    win_probability_sql(scoring_model, SQL("COALESCE(s.score, 0.0)")),
                )
                for scoring_model in calibrated
            ),
        )

    def _lead_scoring_update_forecast(self, lead_ids=None):
        """Set ``lead_scoring_forecast`` of deals in one statement: expected
        revenue x the win probability of their score in their primary model
        (the deal score), 0 when that model has no calibration; a won deal
        its expected revenue, a lost one 0. Costs no query while no deal
        model has one.

        :param lead_ids: these deals (default: every deal)
        """
        candidates = self._lead_scoring_primary_candidates()
        models = self.env["lead.scoring.model"].sudo().browse([c[0] for c in candidates])
        calibrated = models.filtered("date_lab_applied")
        if lead_ids is not None and (not lead_ids or not calibrated):
            return
        self.flush_model([*FORECAST_FIELDS, "lead_scoring_forecast"])
        self.env["lead.scoring.score"].flush_model(["score"])
        leads = self.sudo().with_context(active_test=False)
        probability = self._lead_scoring_probability_sql(calibrated)
        self.env.cr.execute(
            SQL(
                """
                WITH primary_model AS MATERIALIZED (%(primary)s),
                forecast AS (
                    SELECT l.id,
                           CASE WHEN st.is_won
                                THEN ROUND(COALESCE(l.expected_revenue, 0.0)::numeric, 2)
                                WHEN NOT l.active AND l.probability = 0 THEN 0.0
                                ELSE ROUND((COALESCE(l.expected_revenue, 0.0)
                                            * %(probability)s / 100.0)::numeric, 2)
                           END AS value
                      FROM crm_lead l
                      LEFT JOIN crm_stage st ON st.id = l.stage_id
                      LEFT JOIN primary_model p ON p.id = l.id
                      LEFT JOIN lead_scoring_score s ON s.model_id = p.model_id AND s.lead_id = l.id
                     WHERE TRUE %(restrict)s
                )
                UPDATE crm_lead l SET lead_scoring_forecast = forecast.value
                  FROM forecast
                 WHERE l.id = forecast.id
                   -- Empty reads as 0: the first run after the install, or on
                   -- new deals, writes only those with a forecast (11 s less
                   -- for 200,000 deals, most of them at 0 before the lab).
                   AND COALESCE(l.lead_scoring_forecast, 0.0) <> forecast.value
                RETURNING l.id
                """,
                primary=primary_model_sql(leads, candidates, lead_ids),
                probability=probability,
                restrict=restrict_sql(SQL("l.id"), lead_ids),
            )
        )
        changed = [row[0] for row in self.env.cr.fetchall()]
        if changed:
            self.browse(changed).invalidate_recordset(["lead_scoring_forecast"])

    # ------------------------------------------------------------------
    # Lead assignment in score order (see crm.team)
    # ------------------------------------------------------------------

    def search_fetch(self, domain, field_names, offset=0, limit=None, order=None):
        records = super().search_fetch(domain, field_names, offset, limit, order)
        return records._lead_scoring_assignment_sorted("lead_scoring_allocation_order")

    def sorted(self, key=None, reverse=False):
        leads = super().sorted(key, reverse)
        return leads._lead_scoring_assignment_sorted("lead_scoring_assignment_order")

    def _lead_scoring_assignment_sorted(self, context_key):
        """These leads, highest score first, while Odoo's assignment runs in
        score order (``context_key`` names the step: allocation to teams
        searches the leads, assignment to members sorts them): a stable sort
        keeps the order Odoo chose among equal scores."""
        order = self.env.context.get(context_key)
        if not order or len(self) < 2:
            return self
        leads = self.sudo().with_context(**{context_key: False})
        if order == "contact_score":
            scores = {lead.id: lead.partner_id.contact_score for lead in leads}
        else:
            scores = {lead.id: lead.deal_score for lead in leads}
        ordered = sorted(self.ids, key=lambda lead_id: -scores[lead_id])
        return self.browse(ordered)

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

    @api.model
    def _lead_scoring_demo_closed_opportunities(self, count=200, seed=13):
        """Demo data: a year of won and lost opportunities (see ``demo_data``)."""
        demo_data.closed_opportunities(self.env, count, seed)
