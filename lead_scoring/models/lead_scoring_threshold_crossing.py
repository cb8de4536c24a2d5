from odoo import api, fields, models
from odoo.tools import SQL

from ..engine import id_range_sql, restrict_sql


class LeadScoringThresholdCrossing(models.Model):
    """The state of a threshold for one scored record.

    Up thresholds: a row means the threshold fired for the record and stays
    disarmed until the score falls back below. Down thresholds: a row means
    the record's score is at or above the value (armed): the threshold fires
    when it falls below, and the row goes.

    The record is named by id only (``res_id``, of the threshold's target):
    any target can be crossed without a column of its own. A crossing whose
    record is gone is dropped by the next re-arm.
    """

    _name = "lead.scoring.threshold.crossing"
    _description = "Score Threshold Crossing"
    _order = "date desc, id desc"

    threshold_id = fields.Many2one(
        "lead.scoring.threshold", required=True, ondelete="cascade", index=True
    )
    model_id = fields.Many2one(related="threshold_id.model_id")
    res_id = fields.Integer("Record ID", required=True, index=True)
    date = fields.Datetime(required=True, default=fields.Datetime.now)
    score = fields.Float(help="The score when the threshold fired.")

    _sql_constraints = [
        (
            "threshold_res_uniq",
            "UNIQUE(threshold_id, res_id)",
            "A threshold fires once per record until re-armed.",
        ),
    ]

    @api.model
    def _rearm(self, threshold, target_ids=None, id_range=None):
        """Forget the crossings of records whose score is now below the
        threshold (or that no longer exist)."""
        column = SQL.identifier(threshold.model_id._target_column())
        self.env.cr.execute(
            SQL(
                """
                DELETE FROM lead_scoring_threshold_crossing c
                 WHERE c.threshold_id = %(threshold)s %(restrict)s
                   AND NOT EXISTS (
                       SELECT 1 FROM lead_scoring_score s
                        WHERE s.model_id = %(model)s AND s.%(column)s = c.res_id
                          AND s.score >= %(value)s)
                """,
                threshold=threshold.id,
                model=threshold.model_id.id,
                column=column,
                value=threshold.score,
                restrict=SQL(
                    "%s %s",
                    restrict_sql(SQL("c.res_id"), target_ids),
                    id_range_sql(SQL("c.res_id"), id_range),
                ),
            )
        )
        self.invalidate_model()

    @api.model
    def _cross(self, threshold, target_ids=None, id_range=None):
        """Record a crossing for each armed record at or above the threshold.

        :return: ids of the records that cross it now (for which it fires)
        """
        scoring_model = threshold.model_id
        column = SQL.identifier(scoring_model._target_column())
        table = SQL.identifier(scoring_model._target_records()._table)
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """
                WITH armed AS MATERIALIZED (
                    -- The few armed scores first; only they need their record
                    -- read (active), not the thousands already above.
                    SELECT s.%(column)s AS target_id, s.score
                      FROM lead_scoring_score s
                     WHERE s.model_id = %(model)s AND s.score >= %(value)s %(restrict)s
                       AND NOT EXISTS (
                           SELECT 1 FROM lead_scoring_threshold_crossing c
                            WHERE c.threshold_id = %(threshold)s
                              AND c.res_id = s.%(column)s)
                )
                INSERT INTO lead_scoring_threshold_crossing (
                    threshold_id, res_id, date, score,
                    create_uid, create_date, write_uid, write_date)
                SELECT %(threshold)s, armed.target_id, %(now)s, armed.score,
                       %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM armed
                  JOIN %(table)s t ON t.id = armed.target_id AND t.active
                ON CONFLICT DO NOTHING
                RETURNING res_id
                """,
                column=column,
                table=table,
                threshold=threshold.id,
                model=scoring_model.id,
                value=threshold.score,
                now=now,
                uid=self.env.uid,
                restrict=SQL(
                    "%s %s",
                    restrict_sql(SQL("s.%s", column), target_ids),
                    id_range_sql(SQL("s.%s", column), id_range),
                ),
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    @api.model
    def _fall(self, threshold, target_ids=None, id_range=None):
        """Down thresholds: drop the armed records whose score is now below.

        :return: ids of those records that are active (for which it fires)
        """
        scoring_model = threshold.model_id
        column = SQL.identifier(scoring_model._target_column())
        self.env.cr.execute(
            SQL(
                """
                WITH fallen AS (
                    DELETE FROM lead_scoring_threshold_crossing c
                     WHERE c.threshold_id = %(threshold)s %(restrict)s
                       AND NOT EXISTS (
                           SELECT 1 FROM lead_scoring_score s
                            WHERE s.model_id = %(model)s AND s.%(column)s = c.res_id
                              AND s.score >= %(value)s)
                 RETURNING c.res_id
                )
                SELECT fallen.res_id FROM fallen
                  JOIN %(table)s t ON t.id = fallen.res_id AND t.active
                """,
                threshold=threshold.id,
                model=scoring_model.id,
                column=column,
                value=threshold.score,
                table=SQL.identifier(scoring_model._target_records()._table),
                restrict=SQL(
                    "%s %s",
                    restrict_sql(SQL("c.res_id"), target_ids),
                    id_range_sql(SQL("c.res_id"), id_range),
                ),
            )
        )
        fired = [row[0] for row in self.env.cr.fetchall()]
        self.invalidate_model()
        return fired

    @api.model
    def _merge_crossings(self, target, merged_ids, survivor_id):
        """A threshold that fired for a record merged away counts as fired for
        the survivor: the merge must not fire it a second time."""
        self.flush_model()
        of_target = SQL(
            """threshold_id IN (
                SELECT t.id FROM lead_scoring_threshold t
                  JOIN lead_scoring_model m ON m.id = t.model_id AND m.target = %s)""",
            target,
        )
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO lead_scoring_threshold_crossing (
                    threshold_id, res_id, date, score,
                    create_uid, create_date, write_uid, write_date)
                SELECT DISTINCT ON (threshold_id) threshold_id, %(survivor)s, date, score,
                       create_uid, create_date, write_uid, write_date
                  FROM lead_scoring_threshold_crossing
                 WHERE res_id = ANY(%(merged)s) AND %(of_target)s
                 ORDER BY threshold_id, date
                ON CONFLICT DO NOTHING
                """,
                survivor=survivor_id,
                merged=merged_ids,
                of_target=of_target,
            )
        )
        self.env.cr.execute(
            SQL(
                "DELETE FROM lead_scoring_threshold_crossing WHERE res_id = ANY(%s) AND %s",
                merged_ids,
                of_target,
            )
        )
        self.invalidate_model()
