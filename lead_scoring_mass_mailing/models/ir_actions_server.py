import logging

from odoo import models

_logger = logging.getLogger(__name__)

# Context key set by mailing.trace._lead_scoring_track for the lines it fires:
# (trigger, {trace id: (mailing id, link id, list id)}).
MAILING_EVENTS = "lead_scoring_mailing_events"
# Context key: {trace id: scored record id} already found for this run.
SCORED_TRACES = "lead_scoring_scored_traces"


class IrActionsServer(models.Model):
    """Adjust score on mailing traces: the recipient is found for all the
    traces at once, each event counts once per recipient, and the ledger
    reason names the mailing."""

    _inherit = "ir.actions.server"

    def _lead_scoring_awards(self, records, scoring_model, dates):
        trigger, events = self.env.context.get(MAILING_EVENTS) or (None, None)
        if records._name != "mailing.trace" or not events:
            return super()._lead_scoring_awards(records, scoring_model, dates)
        targets = self._lead_scoring_scored_records(records, scoring_model)
        first = self.env["lead.scoring.mailing.event"].sudo()._claim(self, trigger, targets, events)
        counted = records.browse(set(targets) - first)
        if counted:
            _logger.debug(
                "Lead scoring: action %s skipped %s, event already counted", self.id, counted
            )
        # Traces without a recipient go on: the runner logs them as skipped.
        # The recipients found are passed on rather than looked up again.
        action = self.with_context(**{SCORED_TRACES: targets})
        return super(IrActionsServer, action)._lead_scoring_awards(
            records - counted, scoring_model, dates
        )

    def _lead_scoring_scored_records(self, records, scoring_model):
        if records._name != "mailing.trace" or self.score_target_field:
            return super()._lead_scoring_scored_records(records, scoring_model)
        known = self.env.context.get(SCORED_TRACES)
        if known is not None:
            return {record_id: known[record_id] for record_id in records.ids if record_id in known}
        # All the traces at once (a mailing's opens come by the thousand).
        candidates = records.sudo()._lead_scoring_targets(scoring_model.target_model)
        company = scoring_model.company_id
        targets = self.env[scoring_model.target_model].sudo().browse(set(candidates.values()))
        allowed = set(
            targets.filtered(
                lambda target: (
                    target.active
                    and (not company or target.company_id in (company, company.browse()))
                )
            ).ids
        )
        return {
            trace_id: target_id
            for trace_id, target_id in candidates.items()
            if target_id in allowed
        }

    def _lead_scoring_reason(self, record):
        if record._name != "mailing.trace":
            return super()._lead_scoring_reason(record)
        _trigger, events = self.env.context.get(MAILING_EVENTS) or (None, {})
        _mailing_id, link_id, list_id = events.get(record.id, (0, 0, 0))
        # Only the subject: a mailing's row holds its whole body.
        mailing = record.mass_mailing_id.with_context(prefetch_fields=False)
        what = mailing.subject or record.display_name
        if link_id:
            what = f"{what} → {record.env['link.tracker'].browse(link_id).url}"
        if list_id:
            what = f"{what} ({record.env['mailing.list'].browse(list_id).name})"
        return f"{self.base_automation_id.name or self.name}: {what}"
