from odoo import models

# Fields whose change opts a subscription out (mailing.subscription.write).
OPT_OUT_FIELDS = {"opt_out", "opt_out_datetime", "opt_out_reason_id"}


class MailingSubscription(models.Model):
    _inherit = "mailing.subscription"

    def write(self, vals):
        if not OPT_OUT_FIELDS & vals.keys():
            return super().write(vals)
        opted_in = self.filtered(lambda subscription: not subscription.opt_out)
        res = super().write(vals)
        opted_in.filtered("opt_out")._lead_scoring_opted_out()
        return res

    def _lead_scoring_opted_out(self):
        """These subscriptions were just opted out: an "Unsubscribed" event
        per list, on the trace of the last mailing of that list that reached
        the contact (the one whose unsubscribe link was followed, when the
        unsubscribe page says which). A contact never mailed on that list has
        no trace and scores nothing."""
        if not self or not self.env["lead.scoring.automation"]._mailing_line_filters(
            "mailing_unsubscribe"
        ):
            return
        traces = (
            self.env["mailing.trace"]
            .sudo()
            .search(
                [
                    ("model", "=", "mailing.contact"),
                    ("res_id", "in", self.contact_id.ids),
                    ("mass_mailing_id.contact_list_ids", "in", self.list_id.ids),
                    ("trace_status", "not in", ("cancel", "error")),
                ],
                order="id desc",
            )
        )
        followed = self.env.context.get("lead_scoring_mailing_id")
        by_list = {}
        for subscription in self:
            candidates = traces.filtered(
                lambda trace, sub=subscription: (
                    trace.res_id == sub.contact_id.id
                    and sub.list_id in trace.mass_mailing_id.contact_list_ids
                )
            )
            trace = (
                candidates.filtered(lambda trace: trace.mass_mailing_id.id == followed)[:1]
                or candidates[:1]
            )
            if trace:
                by_list.setdefault(subscription.list_id.id, {})[trace.id] = subscription.list_id.id
        # One call per list: a trace is one event per call.
        for lists in by_list.values():
            traces.browse(list(lists))._lead_scoring_track("mailing_unsubscribe", lists=lists)
