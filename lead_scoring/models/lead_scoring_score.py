from odoo import api, fields, models
from odoo.tools import SQL

from ..engine import band_sql, id_range_sql, refresh_scores_sql


class LeadScoringScore(models.Model):
    """A record's score in one scoring model: the sum of its live ledger lines."""

    _name = "lead.scoring.score"
    _description = "Score"
    _order = "score desc, id"
    _rec_name = "model_id"
    # Only the engine writes scores: who and when would say nothing, and the
    # user columns would cost two foreign-key checks on each of a million rows.
    _log_access = False

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
    rollup_score = fields.Float(
        "Roll-up",
        readonly=True,
        help="Companies of a roll-up model: the part of the score that comes from "
        "their contacts (included in the score).",
    )
    band_id = fields.Many2one(
        "lead.scoring.band",
        "Score Band",
        ondelete="set null",
        index="btree_not_null",
        readonly=True,
    )
    band_color = fields.Integer(related="band_id.color")
    win_probability = fields.Float(
        "Win Probability (%)",
        readonly=True,
        aggregator="avg",
        help="Chance of winning at this score, from the calibration the scoring lab "
        "stored on the model when it was applied (empty until then).",
    )
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
            # No threshold ahead: no progress to show (not a misleading 100 %).
            score.threshold_progress = (
                max(0.0, min(100.0, 100.0 * score.score / above.score)) if above else 0.0
            )

    def action_open_rollup_contacts(self):
        """The scores of the contacts behind a company's roll-up."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "lead_scoring.lead_scoring_score_action"
        )
        action["domain"] = [
            ("model_id", "=", self.model_id.id),
            ("partner_id.parent_id", "=", self.partner_id.id),
        ]
        return action

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
    def _refresh_scores(self, scoring_model, now, target_ids=None, new_lines=None, id_range=None):
        """Recompute scores of a model from its live lines, in one statement
        (``engine.refresh_scores_sql``); only changed scores are written.

        :param target_ids: restrict to these records (default: all of the model)
        :param new_lines: optional data-modifying SQL that inserts ledger lines
            and returns ``(target_id, points)``: they count in the same statement
        :param id_range: restrict to the records of this id range (``engine.id_range_sql``)
        :return: ``{record id: (new score, new band id)}`` of the changed scores
        """
        if target_ids is not None and not target_ids:
            return {}
        self.env["lead.scoring.point"].flush_model()
        self.env["lead.scoring.band"].flush_model()
        self.flush_model()
        self.env.cr.execute(
            refresh_scores_sql(scoring_model, now, target_ids, new_lines, id_range=id_range)
        )
        changed = {
            target_id: (score, band_id) for target_id, score, band_id in self.env.cr.fetchall()
        }
        self.invalidate_model(["score", "band_id", "win_probability", "date_last_change"])
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
    def _targets_to_refresh(self, scoring_model, now, id_range=None):
        """Records of a model whose score may have changed since it was last
        computed: a rule changed their lines, or a live line expired (only
        those of ``id_range``, see ``engine.id_range_sql``)."""
        column = SQL.identifier(scoring_model._target_column())
        self.flush_model()
        self.env["lead.scoring.point"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT res_id FROM (%(queued)s) queued(res_id) WHERE TRUE %(queued_range)s
                 UNION
                SELECT p.%(column)s FROM lead_scoring_point p
                 WHERE p.model_id = %(model)s AND p.closed_date IS NULL
                   AND p.is_live AND p.expire_date <= %(now)s %(lines_range)s
                """,
                column=column,
                model=scoring_model.id,
                now=now,
                queued=self.env["lead.scoring.refresh"]._queued_ids_sql(scoring_model),
                queued_range=id_range_sql(SQL("res_id"), id_range),
                lines_range=id_range_sql(SQL("p.%s", column), id_range),
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
                      SELECT s2.id, %(band)s AS band_id
                        FROM lead_scoring_score s2
                       WHERE s2.model_id = %(model)s
                  ) fresh
                 WHERE s.id = fresh.id AND s.band_id IS DISTINCT FROM fresh.band_id
                """,
                band=band_sql(scoring_model.id, SQL("s2.score")),
                model=scoring_model.id,
            )
        )
        self.invalidate_model(["band_id"])
