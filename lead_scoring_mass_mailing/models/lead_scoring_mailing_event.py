from odoo import api, fields, models
from odoo.tools import SQL


class LeadScoringMailingEvent(models.Model):
    """One row per mailing event an automation line has counted for a scored
    record: the first open of a mailing, the first click on each of its
    links, a reply, a bounce, an opt-out.

    Cooldown and cap count points, not events: "each open counts once per
    mailing and recipient" needs to know which events were counted, also
    across traces (two leads of one customer, a mailing sent twice to one
    address). The unique index makes that a single ``INSERT … ON CONFLICT``,
    safe when two opens of one recipient arrive at the same time.
    """

    _name = "lead.scoring.mailing.event"
    _description = "Scored Mailing Event"
    _log_access = False

    action_id = fields.Many2one(
        "ir.actions.server", required=True, ondelete="cascade", readonly=True
    )
    trigger = fields.Char(required=True, readonly=True)
    target_id = fields.Integer("Scored Record ID", required=True, readonly=True)
    mailing_id = fields.Many2one("mailing.mailing", ondelete="cascade", readonly=True)
    link_id = fields.Many2one("link.tracker", ondelete="cascade", readonly=True)
    list_id = fields.Many2one("mailing.list", ondelete="cascade", readonly=True)
    trace_id = fields.Many2one("mailing.trace", ondelete="set null", readonly=True)
    date = fields.Datetime(required=True, readonly=True)

    def init(self):
        # NULL is never equal to NULL in a unique index: count "no link" as 0.
        self.env.cr.execute(
            SQL(
                """
                CREATE UNIQUE INDEX IF NOT EXISTS lead_scoring_mailing_event_unique
                    ON lead_scoring_mailing_event (
                        action_id, trigger, target_id, COALESCE(mailing_id, 0),
                        COALESCE(link_id, 0), COALESCE(list_id, 0))
                """
            )
        )

    @api.model
    def _claim(self, action, trigger, targets, events):
        """Record the events of these traces; return the traces whose event
        is new for their scored record (the others were counted before).

        :param targets: ``{trace id: scored record id}``
        :param events: ``{trace id: (mailing id, link id, list id)}``, 0 or
            False when the event does not depend on it
        :return: set of trace ids
        """
        if not targets:
            return set()
        trace_ids = list(targets)
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO lead_scoring_mailing_event (
                    action_id, trigger, target_id, mailing_id, link_id, list_id, trace_id, date)
                SELECT %(action)s, %(trigger)s, event.target_id, event.mailing_id,
                       event.link_id, event.list_id, event.trace_id, %(now)s
                  FROM unnest(%(traces)s::int[], %(targets)s::int[], %(mailings)s::int[],
                              %(links)s::int[], %(lists)s::int[])
                       AS event(trace_id, target_id, mailing_id, link_id, list_id)
                ON CONFLICT DO NOTHING
                RETURNING trace_id
                """,
                action=action.id,
                trigger=trigger,
                now=fields.Datetime.now(),
                traces=trace_ids,
                targets=[targets[trace_id] for trace_id in trace_ids],
                mailings=[events[trace_id][0] or None for trace_id in trace_ids],
                links=[events[trace_id][1] or None for trace_id in trace_ids],
                lists=[events[trace_id][2] or None for trace_id in trace_ids],
            )
        )
        return {trace_id for (trace_id,) in self.env.cr.fetchall()}
