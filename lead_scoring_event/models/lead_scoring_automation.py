from odoo import api, fields, models

# Automations-tab triggers fired by Events' registrations.
EVENT_TRIGGERS = [
    ("event_registered", "Registered for an event"),
    ("event_attended", "Attended an event"),
]
EVENT_TRIGGER_KEYS = frozenset(dict(EVENT_TRIGGERS))
# Fields of a line that the core's cached trigger lines read.
LINE_FILTER_FIELDS = {"event_ids", "event_type_ids"}


class LeadScoringAutomation(models.Model):
    """Event registrations as triggers of the scoring model's Automations tab.

    Their lines run on registrations (``event.registration``, set by the
    trigger) and own only their "Adjust score" action: the registration's
    own hooks fire them (see ``event.registration._lead_scoring_track``),
    once per registration and line.
    """

    _inherit = "lead.scoring.automation"

    trigger = fields.Selection(
        selection_add=EVENT_TRIGGERS,
        ondelete=dict.fromkeys(EVENT_TRIGGER_KEYS, "cascade"),
    )
    event_ids = fields.Many2many(
        "event.event",
        "lead_scoring_automation_event_rel",
        "automation_id",
        "event_id",
        string="Events",
        groups="event.group_event_registration_desk",
        help="Only registrations for these events. Empty: every event.",
    )
    event_type_ids = fields.Many2many(
        "event.type",
        "lead_scoring_automation_event_type_rel",
        "automation_id",
        "event_type_id",
        string="Event Templates",
        groups="event.group_event_registration_desk",
        help="Only registrations for events of these templates. Empty: every template.",
    )
    is_event_trigger = fields.Boolean(compute="_compute_is_event_trigger")

    @api.depends("trigger")
    def _compute_is_event_trigger(self):
        for line in self:
            line.is_event_trigger = line.trigger in EVENT_TRIGGER_KEYS

    @api.model
    def _cached_line_fields(self):
        return super()._cached_line_fields() | LINE_FILTER_FIELDS

    @api.model
    def _event_triggers(self):
        return super()._event_triggers() | EVENT_TRIGGER_KEYS

    @api.model
    def _code_trigger_models(self):
        return dict(
            super()._code_trigger_models(),
            **dict.fromkeys(EVENT_TRIGGER_KEYS, "event.registration"),
        )

    def _trigger_filters(self):
        if self.trigger in EVENT_TRIGGER_KEYS:
            return {
                "event_ids": frozenset(self.event_ids.ids),
                "event_type_ids": frozenset(self.event_type_ids.ids),
            }
        return super()._trigger_filters()
