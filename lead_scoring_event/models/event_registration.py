from odoo import api, models
from odoo.tools import email_normalize

# Registration states that mean "registered" (an attendee is registered too).
REGISTERED_STATES = ("open", "done")


class EventRegistration(models.Model):
    """Hooks in the registrations' own life: a registration that is confirmed
    fires the "Registered for an event" lines, one marked attended the
    "Attended an event" ones. All the registrations of a call fire together
    (an import, a whole event marked attended); each registration fires each
    line once, whatever comes back and forth later. Cancelling takes nothing
    back."""

    _inherit = "event.registration"

    @api.model_create_multi
    def create(self, vals_list):
        registrations = super().create(vals_list)
        registered = registrations.filtered(
            lambda registration: registration.state in REGISTERED_STATES
        )
        registered._lead_scoring_track("event_registered")
        registered.filtered(lambda registration: registration.state == "done")._lead_scoring_track(
            "event_attended"
        )
        return registrations

    def write(self, vals):
        state = vals.get("state")
        Automation = self.env["lead.scoring.automation"]
        if state not in REGISTERED_STATES or not (
            Automation._event_line_filters("event_registered")
            or Automation._event_line_filters("event_attended")
        ):
            return super().write(vals)
        # Only what changes is news: a registration already registered is not
        # registered again by being marked attended.
        newly_registered = self.filtered(
            lambda registration: registration.state not in REGISTERED_STATES
        )
        newly_attended = self.filtered(lambda registration: registration.state != "done")
        res = super().write(vals)
        newly_registered._lead_scoring_track("event_registered")
        if state == "done":
            newly_attended._lead_scoring_track("event_attended")
        return res

    def _lead_scoring_track(self, trigger):
        """Fire the automation lines of ``trigger`` on these registrations:
        one ``_fire`` per line over all of them. Without such a line this
        costs no query (the lines are cached)."""
        Automation = self.env["lead.scoring.automation"].sudo()
        line_filters = self and Automation._event_line_filters(trigger)
        if not line_filters:
            return
        registrations = self.sudo()
        for line_id, event_ids, type_ids in line_filters:
            line_registrations = registrations
            if event_ids:
                line_registrations = line_registrations.filtered(
                    lambda registration, event_ids=event_ids: registration.event_id.id in event_ids
                )
            if type_ids:
                line_registrations = line_registrations.filtered(
                    lambda registration, type_ids=type_ids: (
                        registration.event_id.event_type_id.id in type_ids
                    )
                )
            if line_registrations:
                Automation.browse(line_id)._fire(line_registrations, once=True)

    def _lead_scoring_contacts(self):
        """``{registration id: partner id}``: the contact of each registration,
        its ``partner_id``, else the first active contact (by id) with its
        normalized e-mail address; found in two queries whatever their
        number. No contact is created."""
        contacts = {
            registration.id: registration.partner_id.id
            for registration in self
            if registration.partner_id
        }
        emails = {
            registration.id: email_normalize(registration.email or "")
            for registration in self
            if registration.id not in contacts
        }
        emails = {registration_id: email for registration_id, email in emails.items() if email}
        if emails:
            first = dict(
                self.env["res.partner"]
                .sudo()
                ._read_group(
                    [("email_normalized", "in", list(set(emails.values())))],
                    ["email_normalized"],
                    ["id:min"],
                )
            )
            contacts.update(
                {
                    registration_id: first[email]
                    for registration_id, email in emails.items()
                    if email in first
                }
            )
        return contacts
