from collections import defaultdict

from odoo import api, fields, models
from odoo.tools import SQL

from .mailing_trace import Hit

# The advisory lock of the processor: one at a time.
PROCESSOR_LOCK = 7_418_281


class LeadScoringMailingHit(models.Model):
    """A click on a mailing's tracked link, waiting to be scored.

    The tracked link only records the click here (one ``INSERT`` in the
    visitor's request, dated at the click) and the tracking pixel marks the
    trace (``mailing.trace.lead_scoring_open_pending``, in Odoo's own UPDATE);
    the scheduled action "Lead Scoring: score mailing opens and clicks"
    (every minute) and every scoring run score them in batches through the
    award path, dated at each hit, exactly as if they had been scored at once.
    """

    _name = "lead.scoring.mailing.hit"
    _inherit = ["lead.scoring.hit.queue"]
    _description = "Mailing Hit to Score"
    _log_access = False
    _order = "date, id"

    trace_id = fields.Many2one("mailing.trace", required=True, ondelete="cascade", readonly=True)
    trigger = fields.Char(required=True, readonly=True)
    link_id = fields.Many2one("link.tracker", ondelete="cascade", readonly=True)
    date = fields.Datetime(required=True, readonly=True)

    @api.model
    def _record(self, trigger, hits):
        """Queue ``hits`` (``mailing_trace.Hit``) of ``trigger``: one INSERT
        (hits of traces that do not exist are left out)."""
        if not hits:
            return
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO lead_scoring_mailing_hit (trace_id, trigger, link_id, date)
                SELECT hit.trace_id, %(trigger)s, NULLIF(hit.link_id, 0), hit.date
                  FROM unnest(%(traces)s::int[], %(links)s::int[], %(dates)s::timestamp[])
                       AS hit(trace_id, link_id, date)
                  -- Only traces that exist (Odoo's click on trace id 0 gives one).
                  JOIN mailing_trace trace ON trace.id = hit.trace_id
                """,
                trigger=trigger,
                traces=[hit.trace_id for hit in hits],
                links=[hit.link_id for hit in hits],
                dates=[hit.date for hit in hits],
            )
        )

    @api.model
    def _score_hits(self, limit=None):
        """Score the pending opens (traces marked ``lead_scoring_open_pending``)
        and clicks (rows of this table), oldest first, at most ``limit`` of
        each, in this transaction, and clear them.

        One processor at a time (a transaction-level advisory lock): another
        one running at the same moment leaves them to it (0). A processor
        that fails leaves its hits, and the points rolled back with them, to
        the next one; each event counts once anyway
        (``lead.scoring.mailing.event``).

        :return: the size of the larger of the two batches handled (opens,
            clicks): ``limit`` when more may be waiting
        """
        cr = self.env.cr
        cr.execute(SQL("SELECT pg_try_advisory_xact_lock(%s)", PROCESSOR_LOCK))
        if not cr.fetchone()[0]:
            return 0
        self.env["mailing.trace"].flush_model(["lead_scoring_open_pending"])
        self.flush_model()
        opens = self._pending_opens(limit)
        rows = self._pending_clicks(limit)
        by_trigger = defaultdict(list)
        if opens:
            by_trigger["mailing_open"] = opens
        for __, trace_id, trigger, link_id, date in rows:
            by_trigger[trigger].append(Hit(trace_id, link_id or 0, 0, date))
        Trace = self.env["mailing.trace"].sudo()
        for trigger, hits in by_trigger.items():
            Trace._lead_scoring_score(trigger, hits)
        self._clear_hits(opens, [row[0] for row in rows])
        return max(len(opens), len(rows))

    def _pending_opens(self, limit):
        """The opens waiting, oldest first: ``Hit`` of each trace, dated at the open."""
        self.env.cr.execute(
            SQL(
                """
                SELECT id, open_datetime FROM mailing_trace
                 WHERE lead_scoring_open_pending
                 ORDER BY open_datetime, id
                 LIMIT %s
                """,
                limit,
            )
        )
        now = fields.Datetime.now()
        return [
            Hit(trace_id, 0, 0, min(date or now, now)) for trace_id, date in self.env.cr.fetchall()
        ]

    def _pending_clicks(self, limit):
        """The rows of this table waiting, oldest first."""
        self.env.cr.execute(
            SQL(
                """
                SELECT id, trace_id, trigger, link_id, date
                  FROM lead_scoring_mailing_hit
                 ORDER BY date, id
                 LIMIT %s
                """,
                limit,
            )
        )
        return self.env.cr.fetchall()

    def _clear_hits(self, opens, hit_ids):
        """Forget the hits just scored: the traces' pending flag, this table's rows."""
        cr = self.env.cr
        if opens:
            cr.execute(
                SQL(
                    """
                    UPDATE mailing_trace SET lead_scoring_open_pending = FALSE
                     WHERE id = ANY(%s)
                    """,
                    [hit.trace_id for hit in opens],
                )
            )
            self.env["mailing.trace"].invalidate_model(["lead_scoring_open_pending"])
        if hit_ids:
            cr.execute(SQL("DELETE FROM lead_scoring_mailing_hit WHERE id = ANY(%s)", hit_ids))
