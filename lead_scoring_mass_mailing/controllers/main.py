from odoo.http import request

from odoo.addons.mass_mailing.controllers.main import MassMailController


class LeadScoringMassMailController(MassMailController):
    """The unsubscribe link of a mailing is an "Unsubscribed" event."""

    def _mailing_unsubscribe_from_list(self, mailing, document_id, email, hash_token):
        # The opt-out itself is seen by mailing.subscription; tell it which
        # mailing's link was followed.
        return super()._mailing_unsubscribe_from_list(
            mailing.with_context(lead_scoring_mailing_id=mailing.id), document_id, email, hash_token
        )

    def _mailing_unsubscribe_from_document(self, mailing, document_id, email, hash_token):
        # A mailing on documents (contacts, leads) unsubscribes by blocklisting
        # the address: an event the first time only.
        blocked = self._fetch_blocklist_record(email)
        already_blocked = bool(blocked and blocked.active)
        response = super()._mailing_unsubscribe_from_document(
            mailing, document_id, email, hash_token
        )
        if not already_blocked:
            request.env["mailing.trace"].sudo()._lead_scoring_unsubscribed(
                mailing, document_id, email
            )
        return response
