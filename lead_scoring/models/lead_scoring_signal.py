from odoo import api, fields, models
from odoo.tools import SQL


class LeadScoringSignal(models.Model):
    """One row per record an automation line fired for, for the triggers that
    count each record once in its life: an activity done, a registration,
    an attendance, a survey participation.

    The state those triggers watch can come back (an activity kept as done
    is marked done again, a registration set back to registered and then to
    attended, a survey submitted twice in a race), and cooldown and cap count
    points, not events. The unique index makes "once per record and line" a
    single ``INSERT … ON CONFLICT``, safe when two users act at the same time.
    """

    _name = "lead.scoring.signal"
    _description = "Scored Signal"
    _log_access = False

    action_id = fields.Many2one(
        "ir.actions.server", required=True, ondelete="cascade", readonly=True
    )
    res_model = fields.Char("Record Model", required=True, readonly=True)
    res_id = fields.Integer("Record ID", required=True, readonly=True)
    date = fields.Datetime(required=True, readonly=True)

    _sql_constraints = [
        (
            "record_once_per_action",
            "UNIQUE(action_id, res_model, res_id)",
            "A record fires an automation line once.",
        ),
    ]

    @api.model
    def _claim(self, action, records):
        """Record that ``action`` fires for ``records``; return those it had
        not fired for before (one query whatever their number).

        :return: a recordset, a subset of ``records``
        """
        if not records:
            return records
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO lead_scoring_signal (action_id, res_model, res_id, date)
                SELECT %(action)s, %(model)s, record.id, %(now)s
                  FROM unnest(%(ids)s::int[]) AS record(id)
                ON CONFLICT DO NOTHING
                RETURNING res_id
                """,
                action=action.id,
                model=records._name,
                now=fields.Datetime.now(),
                ids=list(records.ids),
            )
        )
        fired = {res_id for (res_id,) in self.env.cr.fetchall()}
        return records.filtered(lambda record: record.id in fired)
