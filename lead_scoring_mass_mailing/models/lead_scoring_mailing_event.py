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
    def _claim(self, action, trigger, targets, hits):
        """Record the events of these hits, oldest first; return those that
        are new for their scored record (the others were counted before, or
        by an older hit of the same call).

        :param targets: ``{trace id: scored record id}``
        :param hits: ``[mailing_trace.Hit]`` of traces of ``targets``, in date
            order; an opt-out (``list_id``) does not depend on the mailing
        :return: set of ``(trace id, link id, list id)`` (0: none)
        """
        if not hits:
            return set()
        traces = self.env["mailing.trace"].sudo().browse([hit.trace_id for hit in hits])
        mailings = {trace.id: trace.mass_mailing_id.id for trace in traces}
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO lead_scoring_mailing_event (
                    action_id, trigger, target_id, mailing_id, link_id, list_id, trace_id, date)
                SELECT %(action)s, %(trigger)s, event.target_id, event.mailing_id,
                       event.link_id, event.list_id, event.trace_id, event.date
                  FROM unnest(%(traces)s::int[], %(targets)s::int[], %(mailings)s::int[],
                              %(links)s::int[], %(lists)s::int[], %(dates)s::timestamp[])
                       WITH ORDINALITY
                       AS event(trace_id, target_id, mailing_id, link_id, list_id, date, rank)
                 ORDER BY event.rank
                ON CONFLICT DO NOTHING
                RETURNING trace_id, COALESCE(link_id, 0), COALESCE(list_id, 0)
                """,
                action=action.id,
                trigger=trigger,
                traces=[hit.trace_id for hit in hits],
                targets=[targets[hit.trace_id] for hit in hits],
                mailings=[None if hit.list_id else mailings[hit.trace_id] or None for hit in hits],
                links=[hit.link_id or None for hit in hits],
                lists=[hit.list_id or None for hit in hits],
                dates=[hit.date for hit in hits],
            )
        )
        return set(self.env.cr.fetchall())
