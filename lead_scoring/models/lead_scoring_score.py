from odoo import api, fields, models
from odoo.tools import SQL


class LeadScoringScore(models.Model):
    """A record's score in one scoring model: the sum of its live ledger lines."""

    _name = "lead.scoring.score"
    _description = "Score"
    _order = "score desc, id"
    _rec_name = "model_id"

    # No index of its own on model_id: the unique (model, record) indexes and
    # the (model, score) index below all start with it.
    model_id = fields.Many2one(
        "lead.scoring.model",
        string="Scoring Model",
        required=True,
        ondelete="cascade",
        readonly=True,
    )
    target = fields.Selection(related="model_id.target")
    company_id = fields.Many2one(related="model_id.company_id")
    partner_id = fields.Many2one(
        "res.partner", "Contact", ondelete="cascade", index="btree_not_null", readonly=True
    )
    lead_id = fields.Many2one(
        "crm.lead", "Deal", ondelete="cascade", index="btree_not_null", readonly=True
    )
    score = fields.Float(readonly=True, aggregator="avg")
    band_id = fields.Many2one(
        "lead.scoring.band",
        "Score Band",
        ondelete="set null",
        index="btree_not_null",
        readonly=True,
    )
    band_color = fields.Integer(related="band_id.color")
    date_last_change = fields.Datetime("Last Change", readonly=True)
    next_threshold_id = fields.Many2one(
        "lead.scoring.threshold", compute="_compute_next_threshold", string="Next Threshold Up"
    )
    threshold_progress = fields.Float(
        "Progress to Next Threshold",
        compute="_compute_next_threshold",
        help="Share of the way from 0 to the next threshold above the score, in %.",
    )

    _sql_constraints = [
        (
            "model_partner_uniq",
            "UNIQUE(model_id, partner_id)",
            "A contact has one score per scoring model.",
        ),
        ("model_lead_uniq", "UNIQUE(model_id, lead_id)", "A deal has one score per scoring model."),
    ]

    def init(self):
        # Thresholds fire for the scores at or above a value: a range, not a scan.
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS lead_scoring_score_model_score_idx
                ON lead_scoring_score (model_id, score)
            """
        )

    @api.depends("model_id", "score")
    def _compute_display_name(self):
        for score in self:
            score.display_name = f"{score.model_id.name}: {score.score:g}"

    @api.depends("score", "model_id.threshold_ids.score", "model_id.threshold_ids.active")
    def _compute_next_threshold(self):
        for score in self:
            above = score.model_id.threshold_ids.filtered(
                lambda t, s=score: t.active and t.score > s.score
            ).sorted("score")[:1]
            score.next_threshold_id = above
            if above:
                score.threshold_progress = max(0.0, min(100.0, 100.0 * score.score / above.score))
            else:
                score.threshold_progress = 100.0 if score.model_id.threshold_ids else 0.0

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
    def _refresh_scores(self, scoring_model, now, target_ids=None, new_lines=None):
        """Recompute scores of a model from its live lines, in one statement.

        The same statement marks lines whose expiry has come as no longer
        live and gives each changed score its band. Only scores whose value
        or band changed are written.

        :param target_ids: restrict to these records (default: all of the model)
        :param new_lines: optional data-modifying SQL that inserts ledger lines
            and returns ``(target_id, points)``: they count in the same
            statement (the statement's snapshot does not see its own inserts)
        :return: ``{record id: (new score, new band id)}`` of the changed scores
        """
        column = SQL.identifier(scoring_model._target_column())
        restrict_points = restrict_scores = SQL()
        if target_ids is not None:
            if not target_ids:
                return {}
            restrict_points = SQL("AND p.%s = ANY(%s)", column, list(target_ids))
            restrict_scores = SQL("AND s.%s = ANY(%s)", column, list(target_ids))
        score = scoring_model._clamp_sql(SQL("COALESCE(live.total, 0.0)"))
        self.env["lead.scoring.point"].flush_model()
        self.env["lead.scoring.band"].flush_model()
        self.flush_model()
        self.env.cr.execute(
            SQL(
                """
                WITH new_lines(target_id, points) AS (%(new_lines)s),
                expired AS (
                    UPDATE lead_scoring_point p SET is_live = FALSE
                     WHERE p.model_id = %(model)s AND p.closed_date IS NULL AND p.is_live
                       AND p.expire_date <= %(now)s %(restrict_points)s
                ), live AS (
                    SELECT target_id, SUM(value) AS total FROM (
                        SELECT p.%(column)s AS target_id, %(value)s AS value
                          FROM lead_scoring_point p
                         WHERE p.model_id = %(model)s
                           AND p.closed_date IS NULL
                           AND (p.expire_date IS NULL OR p.expire_date > %(now)s)
                           %(restrict_points)s
                         UNION ALL
                        SELECT target_id, points FROM new_lines
                    ) lines
                     GROUP BY target_id
                ), candidate AS (
                    SELECT target_id FROM live
                     UNION
                    SELECT s.%(column)s FROM lead_scoring_score s
                     WHERE s.model_id = %(model)s %(restrict_scores)s
                ), computed AS (
                    SELECT candidate.target_id,
                           ROUND((%(score)s)::numeric, 4)::float8 AS score
                      FROM candidate
                      LEFT JOIN live ON live.target_id = candidate.target_id
                )
                INSERT INTO lead_scoring_score AS s (
                    model_id, %(column)s, score, band_id, date_last_change,
                    create_uid, create_date, write_uid, write_date)
                SELECT %(model)s, computed.target_id, computed.score,
                       (SELECT b.id FROM lead_scoring_band b
                         WHERE b.model_id = %(model)s AND b.min_score <= computed.score
                         ORDER BY b.min_score DESC, b.id LIMIT 1),
                       %(now)s, %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM computed
                ON CONFLICT (model_id, %(column)s) DO UPDATE
                   SET score = EXCLUDED.score,
                       band_id = EXCLUDED.band_id,
                       date_last_change = CASE WHEN s.score IS DISTINCT FROM EXCLUDED.score
                                               THEN EXCLUDED.date_last_change
                                               ELSE s.date_last_change END,
                       write_uid = EXCLUDED.write_uid,
                       write_date = EXCLUDED.write_date
                 WHERE s.score IS DISTINCT FROM EXCLUDED.score
                    OR s.band_id IS DISTINCT FROM EXCLUDED.band_id
                RETURNING s.%(column)s, s.score, s.band_id
                """,
                column=column,
                value=scoring_model._decayed_points_sql(now),
                model=scoring_model.id,
                now=now,
                uid=self.env.uid,
                score=score,
                restrict_points=restrict_points,
                restrict_scores=restrict_scores,
                new_lines=new_lines or SQL("SELECT NULL::int, NULL::float8 WHERE FALSE"),
            )
        )
        changed = {
            target_id: (score, band_id) for target_id, score, band_id in self.env.cr.fetchall()
        }
        self.invalidate_model(["score", "band_id", "date_last_change", "write_uid", "write_date"])
        self.env["lead.scoring.point"].invalidate_model(["is_live"])
        return changed

    @api.model
    def _merge_scores(self, column, merged_ids, survivor_id):
        """Drop the score rows of records merged away (the survivor's are
        refreshed from the merged ledger).

        :return: ids of the models that scored any of the merged records or the survivor
        """
        self.flush_model()
        self.env.cr.execute(
            SQL(
                """
                WITH dropped AS (
                    DELETE FROM lead_scoring_score WHERE %(column)s = ANY(%(merged)s)
                 RETURNING model_id
                )
                SELECT model_id FROM dropped
                 UNION
                SELECT model_id FROM lead_scoring_score WHERE %(column)s = %(survivor)s
                """,
                column=SQL.identifier(column),
                merged=merged_ids,
                survivor=survivor_id,
            )
        )
        self.invalidate_model()
        return {model_id for (model_id,) in self.env.cr.fetchall()}

    @api.model
    def _targets_to_refresh(self, scoring_model, now):
        """Records of a model whose score may have changed since it was last
        computed: a rule changed their lines, or a live line expired."""
        self.flush_model()
        self.env["lead.scoring.point"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                %(queued)s
                 UNION
                SELECT p.%(column)s FROM lead_scoring_point p
                 WHERE p.model_id = %(model)s AND p.closed_date IS NULL
                   AND p.is_live AND p.expire_date <= %(now)s
                """,
                column=SQL.identifier(scoring_model._target_column()),
                model=scoring_model.id,
                now=now,
                queued=self.env["lead.scoring.refresh"]._queued_ids_sql(scoring_model),
            )
        )
        return [target_id for (target_id,) in self.env.cr.fetchall()]

    @api.model
    def _refresh_bands(self, scoring_model):
        """Relabel every score of a model after its bands changed."""
        self.env["lead.scoring.band"].flush_model()
        self.flush_model()
        self.env.cr.execute(
            SQL(
                """
                UPDATE lead_scoring_score s
                   SET band_id = fresh.band_id
                  FROM (
                      SELECT s2.id,
                             (SELECT b.id FROM lead_scoring_band b
                               WHERE b.model_id = s2.model_id AND b.min_score <= s2.score
                               ORDER BY b.min_score DESC, b.id LIMIT 1) AS band_id
                        FROM lead_scoring_score s2
                       WHERE s2.model_id = %(model)s
                  ) fresh
                 WHERE s.id = fresh.id AND s.band_id IS DISTINCT FROM fresh.band_id
                """,
                model=scoring_model.id,
            )
        )
        self.invalidate_model(["band_id"])
