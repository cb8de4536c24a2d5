from odoo import api, models

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
            Automation._trigger_lines("event_registered")
            or Automation._trigger_lines("event_attended")
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
        """Fire the automation lines of ``trigger`` on these registrations, all
        of them at once per line. Without such a line this costs no query
        (the lines are cached)."""
        if self:
            self.env["lead.scoring.automation"]._fire_trigger(trigger, self.sudo())

    def _lead_scoring_trigger_match(self, filters):
        """The registrations a line limited to ``filters`` keeps: those of its
        events and event templates (empty: every one)."""
        event_ids, type_ids = filters["event_ids"], filters["event_type_ids"]
        return self.filtered(
            lambda registration: (
                (not event_ids or registration.event_id.id in event_ids)
                and (not type_ids or registration.event_id.event_type_id.id in type_ids)
            )
        )
