from odoo import fields, models, tools
from odoo.tools import SQL

from ..engine import band_sql, clamp_sql, closed_opportunities_sql, score_at_sql


class LeadScoringConversionReport(models.Model):
    """Conversion by band: each closed opportunity with the band its score had
    when it closed, so a marketer sees whether "hot" really wins more than "cold".

    The score at closing is rebuilt from the ledger (lines dated before the
    close and neither closed nor expired by then), clamped like the live score;
    decay is not applied.
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

    def _query(self):
        return SQL(
            """
            WITH closed AS (%(closed)s),
            scored AS (
                SELECT c.*, m.id AS model_id, %(raw_score)s AS raw_score,
                       m.use_min_score, m.min_score, m.use_max_score, m.max_score
                  FROM closed c
                  JOIN lead_scoring_model m
                    ON m.active AND m.target IN (%(contact)s, %(deal)s)
                   AND (m.company_id IS NULL OR m.company_id = c.company_id)
                   AND (m.target = %(deal)s OR c.partner_id IS NOT NULL)
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
                   CASE WHEN c.is_won THEN 100.0 ELSE 0.0 END AS won_rate
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
        )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL("CREATE OR REPLACE VIEW %s AS (%s)", SQL.identifier(self._table), self._query())
        )
