from odoo import api, fields, models, tools
from odoo.tools import SQL

from ..engine import (
    band_sql,
    calibrated_probability_sql,
    clamp_sql,
    closed_opportunities_sql,
    score_at_sql,
)


class LeadScoringConversionReport(models.Model):
    """Conversion by band: each closed opportunity with the band its score had
    when it closed, so a marketer sees whether "hot" really wins more than "cold".

    The score at closing is the score just before the close, rebuilt from the
    ledger (``engine.score_at_sql``), clamped like the live score; decay is not
    applied. A scoring model lists only the deals it scores: a deal model its
    segment's deals, a contact model the deals of customers in its segment.
    The view holds each model's segment as SQL, so it is built again when a
    model's segment, company, target or state changes (``_rebuild``).
    """

    _name = "lead.scoring.conversion.report"
    _description = "Conversion by Score Band"
    _auto = False
    _order = "date_closed desc"
    _rec_name = "lead_id"

    lead_id = fields.Many2one("crm.lead", "Opportunity", readonly=True)
    partner_id = fields.Many2one("res.partner", "Customer", readonly=True)
    model_id = fields.Many2one("lead.scoring.model", "Scoring Model", readonly=True)
    band_id = fields.Many2one("lead.scoring.band", "Band at Closing", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    team_id = fields.Many2one("crm.team", "Sales Team", readonly=True)
    lead_grade = fields.Char(readonly=True, help="The customer's lead grade now.")
    user_id = fields.Many2one("res.users", "Salesperson", readonly=True)
    date_closed = fields.Datetime("Closed On", readonly=True)
    score_at_close = fields.Float("Score at Closing", readonly=True, aggregator="avg")
    won_count = fields.Integer("Won", readonly=True)
    lost_count = fields.Integer("Lost", readonly=True)
    closed_count = fields.Integer("Closed", readonly=True)
    won_rate = fields.Float("Won Rate (%)", readonly=True, aggregator="avg")
    forecast = fields.Float(
        "Forecast at Closing",
        readonly=True,
        help="Expected revenue x the win probability of the score at closing, under the "
        "scoring model's calibration (0 until a lab was applied): next to Won Revenue, per "
        "band or salesperson, it shows whether the forecast of open deals can be trusted.",
    )
    won_revenue = fields.Float(readonly=True, help="Expected revenue of the won opportunities.")

    def _query(self):
        return SQL(
            """
            WITH closed AS (%(closed)s),
            scored AS (
                SELECT c.*, m.id AS model_id, %(raw_score)s AS raw_score,
                       m.use_min_score, m.min_score, m.use_max_score, m.max_score,
                       m.date_lab_applied, m.win_calibration_intercept, m.win_calibration_slope
                  FROM closed c
                  JOIN lead_scoring_model m
                    ON m.active AND m.state = 'live' AND m.target IN (%(contact)s, %(deal)s)
                   AND (m.company_id IS NULL OR m.company_id = c.company_id)
                   AND (m.target = %(deal)s OR c.partner_id IS NOT NULL)
                 WHERE %(in_segment)s
            ), clamped AS (
                SELECT scored.*, %(score_at_close)s AS score_at_close FROM scored
            )
            SELECT row_number() OVER (ORDER BY c.model_id, c.lead_id) AS id,
                   c.lead_id, c.partner_id, c.model_id, c.company_id, c.team_id, c.lead_grade,
                   c.user_id, c.date_closed, c.score_at_close,
                   %(band)s AS band_id,
                   CASE WHEN c.is_won THEN 1 ELSE 0 END AS won_count,
                   CASE WHEN c.is_won THEN 0 ELSE 1 END AS lost_count,
                   1 AS closed_count,
                   CASE WHEN c.is_won THEN 100.0 ELSE 0.0 END AS won_rate,
                   CASE WHEN c.date_lab_applied IS NULL THEN 0.0
                        ELSE ROUND((COALESCE(c.expected_revenue, 0.0) * %(probability)s
                                    / 100.0)::numeric, 2)::float8 END AS forecast,
                   CASE WHEN c.is_won THEN COALESCE(c.expected_revenue, 0.0) ELSE 0.0 END
                       AS won_revenue
              FROM clamped c
            """,
            closed=closed_opportunities_sql(),
            raw_score=score_at_sql(
                SQL("m.id"),
                SQL(
                    "CASE WHEN m.target = %s THEN p.lead_id = c.lead_id"
                    " ELSE p.partner_id = c.partner_id END",
                    self.env["crm.lead"]._lead_scoring_target,
                ),
                SQL("c.date_closed"),
            ),
            contact=self.env["res.partner"]._lead_scoring_target,
            deal=self.env["crm.lead"]._lead_scoring_target,
            score_at_close=clamp_sql(
                SQL("raw_score"),
                SQL("CASE WHEN use_min_score THEN min_score END"),
                SQL("CASE WHEN use_max_score THEN max_score END"),
            ),
            band=band_sql(SQL("c.model_id"), SQL("c.score_at_close")),
            probability=calibrated_probability_sql(
                SQL("c.win_calibration_intercept"),
                SQL("c.win_calibration_slope"),
                SQL("c.score_at_close"),
            ),
            in_segment=self._segment_sql(),
        )

    def _segment_sql(self):
        """SQL condition on ``m`` (scoring model) and ``c`` (closed deal):
        the deal (deal models) or its customer (contact models) is in the
        model's segment. Models without a segment take every deal."""
        branches = []
        deal = self.env["crm.lead"]._lead_scoring_target
        columns = {self.env["res.partner"]._lead_scoring_target: "partner_id", deal: "lead_id"}
        scoring_models = (
            self.env["lead.scoring.model"]
            .sudo()
            .search([("active", "=", True), ("state", "=", "live")])
        )
        for scoring_model in scoring_models.filtered("domain"):
            segment = scoring_model._segment_domain()
            column = columns.get(scoring_model.target)
            if not segment or not column:
                continue
            records = scoring_model._target_records().with_context(active_test=False)
            branches.append(
                SQL(
                    "WHEN %s THEN %s IN (%s)",
                    scoring_model.id,
                    SQL.identifier("c", column),
                    records._search(segment).select(),
                )
            )
        if not branches:
            return SQL("TRUE")
        return SQL("CASE m.id %s ELSE TRUE END", SQL(" ").join(branches))

    @api.model
    def action_open_report(self):
        """The report filtered on one scoring model (the first deal model, else
        the first model): totals of several models added up mean nothing."""
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "lead_scoring.lead_scoring_conversion_report_action"
        )
        deal = self.env["crm.lead"]._lead_scoring_target
        targets = [self.env["res.partner"]._lead_scoring_target, deal]
        scoring_models = self.env["lead.scoring.model"].search(
            [("target", "in", targets), ("state", "=", "live")]
        )
        first = scoring_models.filtered(lambda m: m.target == deal)[:1] or scoring_models[:1]
        if first:
            action["context"] = {"search_default_model_id": first.id}
        return action

    def _rebuild(self):
        """Build the view again: a scoring model's segment changed (rows are
        numbered anew, so what was read of them is forgotten)."""
        self.env.flush_all()
        self.init()
        self.invalidate_model()

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL("CREATE OR REPLACE VIEW %s AS (%s)", SQL.identifier(self._table), self._query())
        )
