from odoo import api, fields, models
from odoo.tools import SQL


class LeadScoringThresholdCrossing(models.Model):
    """A threshold that fired for a record and stays disarmed for it until the
    record's score falls back below the threshold."""

    _name = "lead.scoring.threshold.crossing"
    _description = "Score Threshold Crossing"
    _order = "date desc, id desc"

    threshold_id = fields.Many2one(
        "lead.scoring.threshold", required=True, ondelete="cascade", index=True
    )
    model_id = fields.Many2one(related="threshold_id.model_id")
    partner_id = fields.Many2one("res.partner", "Contact", ondelete="cascade", index=True)
    lead_id = fields.Many2one("crm.lead", "Deal", ondelete="cascade", index=True)
    date = fields.Datetime(required=True, default=fields.Datetime.now)
    score = fields.Float(help="The score when the threshold fired.")

    _sql_constraints = [
        (
            "threshold_partner_uniq",
            "UNIQUE(threshold_id, partner_id)",
            "A threshold fires once per contact until re-armed.",
        ),
        (
            "threshold_lead_uniq",
            "UNIQUE(threshold_id, lead_id)",
            "A threshold fires once per deal until re-armed.",
        ),
    ]

    @api.model
    def _restrict(self, column, target_ids):
        if target_ids is None:
            return SQL()
        return SQL("AND s.%s = ANY(%s)", column, list(target_ids))

    @api.model
    def _merge_crossings(self, column, merged_ids, survivor_id):
        """A threshold that fired for a record merged away counts as fired for
        the survivor: the merge must not fire it a second time."""
        column = SQL.identifier(column)
        self.flush_model()
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO lead_scoring_threshold_crossing (
                    threshold_id, %(column)s, date, score,
                    create_uid, create_date, write_uid, write_date)
                SELECT DISTINCT ON (threshold_id) threshold_id, %(survivor)s, date, score,
                       create_uid, create_date, write_uid, write_date
                  FROM lead_scoring_threshold_crossing
                 WHERE %(column)s = ANY(%(merged)s)
                 ORDER BY threshold_id, date
                ON CONFLICT DO NOTHING
                """,
                column=column,
                survivor=survivor_id,
                merged=merged_ids,
            )
        )
        self.env.cr.execute(
            SQL(
                "DELETE FROM lead_scoring_threshold_crossing WHERE %s = ANY(%s)",
                column,
                merged_ids,
            )
        )
        self.invalidate_model()

    @api.model
    def _rearm(self, threshold, target_ids=None):
        """Forget the crossings of records whose score is now below the threshold."""
        column = SQL.identifier(threshold.model_id._target_column())
        self.env.cr.execute(
            SQL(
                """
                DELETE FROM lead_scoring_threshold_crossing c
                 USING lead_scoring_score s
                 WHERE c.threshold_id = %(threshold)s
                   AND s.model_id = %(model)s AND s.%(column)s = c.%(column)s
                   AND s.score < %(value)s %(restrict)s
                """,
                threshold=threshold.id,
                model=threshold.model_id.id,
                column=column,
                value=threshold.score,
                restrict=self._restrict(column, target_ids),
            )
        )
        self.invalidate_model()

    @api.model
    def _disarm(self, threshold, target_ids=None):
        """Record a crossing for each armed record at or above the threshold.

        :return: ids of the records for which the threshold fires now
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
                              AND c.%(column)s = s.%(column)s)
                )
                INSERT INTO lead_scoring_threshold_crossing (
                    threshold_id, %(column)s, date, score,
                    create_uid, create_date, write_uid, write_date)
                SELECT %(threshold)s, armed.target_id, %(now)s, armed.score,
                       %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM armed
                  JOIN %(table)s t ON t.id = armed.target_id AND t.active
                ON CONFLICT DO NOTHING
                RETURNING %(column)s
                """,
                column=column,
                table=table,
                threshold=threshold.id,
                model=scoring_model.id,
                value=threshold.score,
                now=now,
                uid=self.env.uid,
                restrict=self._restrict(column, target_ids),
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]
