from odoo import api, fields, models
from odoo.tools import SQL


class LeadScoringScore(models.Model):
    """A record's score in one scoring model: the sum of its live ledger lines."""

    _name = "lead.scoring.score"
    _description = "Score"
    _order = "score desc, id"
    _rec_name = "model_id"

    model_id = fields.Many2one(
        "lead.scoring.model",
        string="Scoring Model",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    target = fields.Selection(related="model_id.target")
    company_id = fields.Many2one(related="model_id.company_id")
    partner_id = fields.Many2one(
        "res.partner", "Contact", ondelete="cascade", index=True, readonly=True
    )
    lead_id = fields.Many2one("crm.lead", "Deal", ondelete="cascade", index=True, readonly=True)
    score = fields.Float(readonly=True, aggregator="avg")
    band_id = fields.Many2one(
        "lead.scoring.band", "Band", ondelete="set null", index=True, readonly=True
    )
    band_color = fields.Integer(related="band_id.color")
    date_last_change = fields.Datetime("Last Change", readonly=True)

    _sql_constraints = [
        (
            "model_partner_uniq",
            "UNIQUE(model_id, partner_id)",
            "A contact has one score per scoring model.",
        ),
        ("model_lead_uniq", "UNIQUE(model_id, lead_id)", "A deal has one score per scoring model."),
    ]

    @api.depends("model_id", "score")
    def _compute_display_name(self):
        for score in self:
            score.display_name = f"{score.model_id.name}: {score.score:g}"

    def action_open_points(self):
        self.ensure_one()
        column = self.model_id._target_column()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "lead_scoring.lead_scoring_point_action"
        )
        action["domain"] = [("model_id", "=", self.model_id.id), (column, "=", self[column].id)]
        action["context"] = {"search_default_filter_live": 1}
        return action

    # ------------------------------------------------------------------
    # Engine
    # ------------------------------------------------------------------

    @api.model
    def _refresh_scores(self, scoring_model, now, target_ids=None):
        """Recompute scores of a model from its live lines, in one statement.

        Only scores whose value changed are written.

        :param target_ids: restrict to these records (default: all of the model)
        :return: ids of the records whose score changed
        """
        column = SQL.identifier(scoring_model._target_column())
        restrict_points = restrict_scores = SQL()
        if target_ids is not None:
            if not target_ids:
                return []
            restrict_points = SQL("AND p.%s = ANY(%s)", column, list(target_ids))
            restrict_scores = SQL("AND s.%s = ANY(%s)", column, list(target_ids))
        score = scoring_model._clamp_sql(SQL("COALESCE(live.total, 0.0)"))
        self.env.cr.execute(
            SQL(
                """
                WITH live AS (
                    SELECT p.%(column)s AS target_id, SUM(%(value)s) AS total
                      FROM lead_scoring_point p
                     WHERE p.model_id = %(model)s
                       AND p.closed_date IS NULL
                       AND (p.expire_date IS NULL OR p.expire_date > %(now)s)
                       %(restrict_points)s
                     GROUP BY p.%(column)s
                ), candidate AS (
                    SELECT target_id FROM live
                     UNION
                    SELECT s.%(column)s FROM lead_scoring_score s
                     WHERE s.model_id = %(model)s %(restrict_scores)s
                )
                INSERT INTO lead_scoring_score AS s (
                    model_id, %(column)s, score, date_last_change,
                    create_uid, create_date, write_uid, write_date)
                SELECT %(model)s, candidate.target_id,
                       ROUND((%(score)s)::numeric, 4)::float8,
                       %(now)s, %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM candidate
                  LEFT JOIN live ON live.target_id = candidate.target_id
                ON CONFLICT (model_id, %(column)s) DO UPDATE
                   SET score = EXCLUDED.score,
                       date_last_change = EXCLUDED.date_last_change,
                       write_uid = EXCLUDED.write_uid,
                       write_date = EXCLUDED.write_date
                 WHERE s.score IS DISTINCT FROM EXCLUDED.score
                RETURNING s.%(column)s
                """,
                column=column,
                value=scoring_model._decayed_points_sql(now),
                model=scoring_model.id,
                now=now,
                uid=self.env.uid,
                score=score,
                restrict_points=restrict_points,
                restrict_scores=restrict_scores,
            )
        )
        changed = [row[0] for row in self.env.cr.fetchall()]
        self.invalidate_model(["score", "date_last_change", "write_uid", "write_date"])
        return changed

    @api.model
    def _refresh_bands(self, scoring_model, target_ids=None):
        """Give each score of the model the band with the highest minimum it reaches."""
        restrict = SQL()
        if target_ids is not None:
            if not target_ids:
                return
            column = SQL.identifier(scoring_model._target_column())
            restrict = SQL("AND s.%s = ANY(%s)", column, list(target_ids))
        self.env.cr.execute(
            SQL(
                """
                UPDATE lead_scoring_score s
                   SET band_id = (
                       SELECT b.id FROM lead_scoring_band b
                        WHERE b.model_id = s.model_id AND b.min_score <= s.score
                        ORDER BY b.min_score DESC, b.id
                        LIMIT 1)
                 WHERE s.model_id = %(model)s %(restrict)s
                   AND s.band_id IS DISTINCT FROM (
                       SELECT b.id FROM lead_scoring_band b
                        WHERE b.model_id = s.model_id AND b.min_score <= s.score
                        ORDER BY b.min_score DESC, b.id
                        LIMIT 1)
                """,
                model=scoring_model.id,
                restrict=restrict,
            )
        )
        self.invalidate_model(["band_id"])
