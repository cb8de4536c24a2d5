from collections import defaultdict, namedtuple

from odoo import api, fields, models
from odoo.tools import SQL, email_normalize

# One event of a trace to score: a link clicked or a list left (0: none), and
# when it happened (the award is dated then).
Hit = namedtuple("Hit", "trace_id link_id list_id date")
# The trace's date of an event: the award is dated then (else now).
TRIGGER_DATES = {
    "mailing_open": "open_datetime",
    "mailing_click": "links_click_datetime",
    "mailing_reply": "reply_datetime",
}


class MailingTrace(models.Model):
    """Hooks in Email Marketing's own tracking: each trace that really
    changes state (first open, reply, bounce) fires the automation lines of
    that trigger. Clicks and opt-outs come from ``link.tracker.click`` and
    ``mailing.subscription`` / the unsubscribe page.

    Opens and clicks (the visitor's requests: the pixel, a tracked link) are
    only recorded (``lead.scoring.mailing.hit``) and scored within a minute
    in batches, dated at the hit; replies, bounces and opt-outs are scored
    at once."""

    _inherit = "mailing.trace"

    # A first open waiting to be scored (``lead.scoring.mailing.hit``): set in
    # the same UPDATE as Odoo's own ``trace_status`` and ``open_datetime``.
    lead_scoring_open_pending = fields.Boolean(readonly=True, copy=False)

    def init(self):
        # The batch finds the pending opens by this small partial index.
        self.env.cr.execute(
            SQL(
                """
                CREATE INDEX IF NOT EXISTS mailing_trace_lead_scoring_open_pending_idx
                    ON mailing_trace (open_datetime, id) WHERE lead_scoring_open_pending
                """
            )
        )

    def set_opened(self, domain=None):
        traces = self + (self.search(domain) if domain else self.browse())
        # Odoo records re-opens (and opens implied by a reply or a click) on
        # traces already opened: only the first one is an event.
        first_opens = traces.filtered(
            lambda trace: trace.trace_status not in ("open", "reply") and not trace.open_datetime
        )
        inline = first_opens._lead_scoring_mark_opens()
        res = super(MailingTrace, traces).set_opened()
        if inline:
            first_opens._lead_scoring_track("mailing_open")
        return res

    def _lead_scoring_mark_opens(self):
        """Mark these first opens pending for the batch: no query of its own,
        the flag goes out with Odoo's UPDATE of the trace. No query either
        while no active line has the trigger (cached).

        :return: whether the opens are to be scored at once instead (hits
            scored inline, see ``lead.scoring.mailing.hit._inline``)
        """
        Automation = self.env["lead.scoring.automation"].sudo()
        if not (self and Automation._mailing_line_filters("mailing_open")):
            return False
        if self.env["lead.scoring.mailing.hit"]._inline():
            return True
        self.sudo().write({"lead_scoring_open_pending": True})
        return False

    def set_replied(self, domain=None):
        traces = self + (self.search(domain) if domain else self.browse())
        first_replies = traces.filtered(
            lambda trace: trace.trace_status != "reply" and not trace.reply_datetime
        )
        res = super(MailingTrace, traces).set_replied()
        first_replies._lead_scoring_track("mailing_reply")
        return res

    def set_bounced(self, domain=None, bounce_message=False):
        traces = self + (self.search(domain) if domain else self.browse())
        first_bounces = traces.filtered(lambda trace: trace.trace_status != "bounce")
        res = super(MailingTrace, traces).set_bounced(bounce_message=bounce_message)
        first_bounces._lead_scoring_track("mailing_bounce")
        return res

    def _lead_scoring_hit(self, trigger, links=None):
        """An open or a click of these traces, in the visitor's request: record
        it for the batch (one INSERT, see ``lead.scoring.mailing.hit``), or
        score it at once when hits are scored inline. No query while the
        trigger has no active line (cached).

        :param links: ``{trace id: link.tracker id}`` of a click
        """
        Automation = self.env["lead.scoring.automation"].sudo()
        if not (self and Automation._mailing_line_filters(trigger)):
            return
        Hits = self.env["lead.scoring.mailing.hit"].sudo()
        if Hits._inline():
            self._lead_scoring_track(trigger, links=links)
        else:
            Hits._record(trigger, self._lead_scoring_hits(trigger, links))

    def _lead_scoring_hits(self, trigger, links=None, lists=None):
        """``[Hit]``: the event of ``trigger`` of each trace, dated at the
        trace's date of it (never later than now)."""
        links, lists = links or {}, lists or {}
        now = fields.Datetime.now()
        date_field = TRIGGER_DATES.get(trigger)
        return [
            Hit(
                trace.id,
                links.get(trace.id, 0),
                lists.get(trace.id, 0),
                min((date_field and trace[date_field]) or now, now),
            )
            for trace in self
        ]

    def _lead_scoring_track(self, trigger, links=None, lists=None):
        """Fire the automation lines of ``trigger`` on these traces now, one
        event each (an event already counted for the same recipient is
        skipped, see ``lead.scoring.mailing.event``), through the award path.

        :param links: ``{trace id: link.tracker id}``: clicks count per link
        :param lists: ``{trace id: mailing.list id}``: opt-outs count per list
            rather than per mailing
        """
        Automation = self.env["lead.scoring.automation"].sudo()
        if self and Automation._mailing_line_filters(trigger):
            self._lead_scoring_score(trigger, self._lead_scoring_hits(trigger, links, lists))

    @api.model
    def _lead_scoring_score(self, trigger, hits):
        """Score ``hits`` (``[Hit]``, several per trace allowed) of ``trigger``
        through the automation lines of that trigger: what scoring at once
        and the batch of recorded hits both run."""
        Automation = self.env["lead.scoring.automation"].sudo()
        line_filters = hits and Automation._mailing_line_filters(trigger)
        if not line_filters:
            return
        traces = self.sudo().browse(dict.fromkeys(hit.trace_id for hit in hits))
        lists = {hit.trace_id: hit.list_id for hit in hits if hit.list_id}
        for line_id, mailing_ids, list_ids in line_filters:
            line_traces = traces._lead_scoring_limited_to(mailing_ids, list_ids, lists)
            if line_traces:
                kept = set(line_traces.ids)
                line_hits = [hit for hit in hits if hit.trace_id in kept]
                Automation.browse(line_id)._mailing_award(trigger, line_traces, line_hits)

    def _lead_scoring_limited_to(self, mailing_ids, list_ids, lists):
        """These traces, limited to the mailings ``mailing_ids`` and to mailings
        sent to the lists ``list_ids`` (for a list opt-out: to those lists);
        empty sets limit nothing.

        :param lists: ``{trace id: mailing.list id}`` of list opt-outs
        """
        traces = self
        if mailing_ids:
            traces = traces.filtered(lambda trace: trace.mass_mailing_id.id in mailing_ids)
        if list_ids:
            traces = traces.filtered(
                lambda trace: (
                    lists[trace.id] in list_ids
                    if trace.id in lists
                    else list_ids.intersection(trace.mass_mailing_id.contact_list_ids.ids)
                )
            )
        return traces

    @api.model
    def _lead_scoring_unsubscribed(self, mailing, document_id, email):
        """The recipient of ``mailing`` (``document_id``, else ``email``)
        unsubscribed from its unsubscribe link."""
        domain = [("mass_mailing_id", "=", mailing.id)]
        if document_id and str(document_id).isdigit():
            domain += [
                ("model", "=", mailing.mailing_model_real),
                ("res_id", "=", int(document_id)),
            ]
        elif email_normalize(email or ""):
            domain += [("email", "=", email_normalize(email))]
        else:
            return
        self.sudo().search(domain, order="id desc", limit=1)._lead_scoring_track(
            "mailing_unsubscribe"
        )

    def _lead_scoring_targets(self, model_name):
        """The recipients of these traces among records of ``model_name``,
        found in a few queries whatever the number of traces.

        The document the trace was sent to when it is of that model; for
        contacts also the document's customer (a lead's ``partner_id``), else
        the first contact with the trace's e-mail (mailing list contacts,
        leads without customer), as ``_lead_scoring_find_target`` does for
        one record.

        :return: ``{trace id: record id}`` for the traces that have one
        """
        Target = self.env[model_name].sudo().with_context(active_test=False)
        by_model = defaultdict(list)
        for trace in self:
            by_model[trace.model].append(trace)
        targets = {}
        for document_model, traces in by_model.items():
            if document_model == model_name:
                # Fetched with what the action checks next: one query in all.
                existing = Target.search_fetch(
                    [("id", "in", [t.res_id for t in traces])], ["active", "company_id"]
                )
                targets.update({t.id: t.res_id for t in traces if t.res_id in existing._ids})
            elif model_name == "res.partner":
                targets.update(self._lead_scoring_document_partners(document_model, traces))
        if model_name == "res.partner":
            targets.update(self.browse(set(self.ids) - set(targets))._lead_scoring_email_partners())
        return targets

    @api.model
    def _lead_scoring_document_partners(self, document_model, traces):
        """``{trace id: partner id}``: the customers of the documents of
        ``traces`` (records of ``document_model``) that have one."""
        Document = self.env.get(document_model)
        field = Document is not None and Document._fields.get("partner_id")
        if not field or field.type != "many2one" or field.comodel_name != "res.partner":
            return {}
        documents = (
            Document.sudo()
            .with_context(active_test=False)
            .search_fetch([("id", "in", [t.res_id for t in traces])], ["partner_id"])
        )
        partners = {document.id: document.partner_id.id for document in documents}
        return {t.id: partners[t.res_id] for t in traces if partners.get(t.res_id)}

    def _lead_scoring_email_partners(self):
        """``{trace id: partner id}``: the first contact (by id) with the e-mail
        address of each trace."""
        emails = {trace.id: email_normalize(trace.email or "") for trace in self}
        wanted = {email for email in emails.values() if email}
        if not wanted:
            return {}
        first = dict(
            self.env["res.partner"]
            .sudo()
            ._read_group(
                [("email_normalized", "in", list(wanted))], ["email_normalized"], ["id:min"]
            )
        )
        return {trace_id: first[email] for trace_id, email in emails.items() if email in first}
