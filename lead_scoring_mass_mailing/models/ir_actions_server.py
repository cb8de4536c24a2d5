from odoo import models


class IrActionsServer(models.Model):
    """Adjust score on mailing traces: the ledger reason names the mailing
    (the recipients are found for all the traces at once by
    ``res.partner._lead_scoring_find_targets``)."""

    _inherit = "ir.actions.server"

    def _lead_scoring_reason(self, record):
        if record._name != "mailing.trace":
            return super()._lead_scoring_reason(record)
        return self._lead_scoring_trace_reason(record)

    def _lead_scoring_trace_reason(self, trace, link_id=0, list_id=0):
        """ "Opened mailing: Black Friday", with the link clicked or the list
        left when the event is about one."""
        # Only the subject: a mailing's row holds its whole body.
        mailing = trace.mass_mailing_id.with_context(prefetch_fields=False)
        what = mailing.subject or trace.display_name
        if link_id:
            what = f"{what} → {trace.env['link.tracker'].browse(link_id).url}"
        if list_id:
            what = f"{what} ({trace.env['mailing.list'].browse(list_id).name})"
        return f"{self.base_automation_id.name or self.name}: {what}"
