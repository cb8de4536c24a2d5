"""Events posted by outside systems (``POST /lead_scoring/v1/events``).

A batch is handled set-based: events are checked one by one in plain Python
(``api/event.py``, ``api/batch.py``: no database; a refusal is a code that
this model words in the API user's language), then every step that reads or
writes the database does it once for the batch (types, targets per kind,
idempotency keys) or once per event type (the ledger lines, through
``lead.scoring.point._add_points``).
"""

import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

from ..api.batch import MAX_EVENTS, parse_batch, undecided
from ..api.event import MAX_LENGTHS, STATUSES
from ..award import CAP, COMPANY, COOLDOWN, EXPIRED, INACTIVE, SEGMENT, Award
from ..engine import registered_targets

_logger = logging.getLogger(__name__)

# Days an event id is remembered: a retry after that scores again.
KEY_RETENTION_DAYS = 90
# The API's limits stay importable from here (the tests read them).
__all__ = ["KEY_RETENTION_DAYS", "MAX_EVENTS", "MAX_LENGTHS", "STATUSES"]


class LeadScoringApiEvent(models.Model):
    """An event id an API user sent, kept 90 days so that a repeated id
    scores nothing (the idempotency key), with what the event gave."""

    _name = "lead.scoring.api.event"
    _description = "Scoring API Event"
    _order = "id desc"

    user_id = fields.Many2one("res.users", "API User", required=True, ondelete="cascade")
    name = fields.Char("Event ID", required=True, size=MAX_LENGTHS["id"])
    event_type = fields.Char()
    action_id = fields.Many2one("ir.actions.server", "Adjust Score Action", ondelete="set null")
    status = fields.Selection(
        [("scored", "Scored"), ("skipped", "Skipped")], required=True, default="scored"
    )
    points = fields.Float()
    target_model = fields.Char("Scored Model")
    target_id = fields.Many2oneReference("Scored Record", model_field="target_model")
    event_date = fields.Datetime("Occurred At")
    message = fields.Char()

    _sql_constraints = [
        (
            "user_event_uniq",
            "UNIQUE (user_id, name)",
            "An API user sends each event id once.",
        ),
    ]

    def init(self):
        # Read by the daily clean-up of old keys.
        self.env.cr.execute(
            "CREATE INDEX IF NOT EXISTS lead_scoring_api_event_create_date_idx"
            " ON lead_scoring_api_event (create_date)"
        )

    @api.autovacuum
    def _gc_old_keys(self):
        """Forget event ids older than the retention period (90 days)."""
        cutoff = fields.Datetime.now() - timedelta(days=KEY_RETENTION_DAYS)
        self.env.cr.execute(
            SQL(
                """
                DELETE FROM lead_scoring_api_event WHERE id IN (
                    SELECT id FROM lead_scoring_api_event
                     WHERE create_date < %(cutoff)s LIMIT %(limit)s)
                """,
                cutoff=cutoff,
                limit=models.GC_UNLINK_LIMIT,
            )
        )
        deleted = self.env.cr.rowcount
        self.invalidate_model()
        _logger.info("Lead scoring: forgot %s API event ids older than %s", deleted, cutoff)
        return deleted

    # ------------------------------------------------------------------
    # Receiving a batch
    # ------------------------------------------------------------------

    @api.model
    def _receive(self, payload):
        """Score the events of one request for the current (API) user.

        Called as superuser with the API user as ``uid`` (see the controller):
        the user needs no right on contacts, deals or the ledger.

        :param payload: the ``events`` list of the request body (1 to 1000)
        :return: one answer dict per event, in the same order
        """
        events = self._parse_batch(payload)
        self._resolve_types(events)
        self._resolve_targets(events)
        claimed = self._claim(events)
        self._create_contacts(claimed)
        self._score(claimed)
        self._store_outcomes(claimed)
        return [event.answer() for event in events]

    # Checking the events (no query) ------------------------------------------

    def _parse_batch(self, payload):
        """The events of the request, checked in plain Python (``api/``),
        the refused ones answered in the API user's language."""
        events = parse_batch(payload, self._record_fields(), fields.Datetime.now())
        for event in events:
            if event.refusal:
                event.message = self._refusal_message(event.refusal)
        return events

    def _refusal_message(self, refusal):
        """The message of a refusal of the parser (``api/event.py``)."""
        messages = {**_text_refusals(self.env), **_event_refusals(self.env)}
        return messages[refusal.code](**refusal.params)

    def _record_fields(self):
        """Event members naming a scored record by id: its ledger column."""
        return [target.column for target in registered_targets(self.env).values()]

    # Event types (a few queries per batch) ---------------------------------

    def _resolve_types(self, events):
        pending = undecided(events)
        actions = self._actions_by_type({event.type for event in pending})
        archived_lines = self._archived_lines(actions.values())
        for event in pending:
            event.action = actions.get(event.type)
            if not event.action:
                event.decide("error", self.env._('Unknown event type "%(type)s".', type=event.type))
                continue
            error = self._target_kind_error(event)
            if error:
                event.decide("error", error)
            elif not event.action.score_model_id.active:
                event.decide(
                    "skipped",
                    self.env._(
                        'Scoring model "%(model)s" is archived.',
                        model=event.action.score_model_id.name,
                    ),
                )
            elif event.action in archived_lines:
                event.decide(
                    "skipped",
                    self.env._(
                        'The automation "%(line)s" of this event type is archived.',
                        line=archived_lines[event.action],
                    ),
                )

    def _actions_by_type(self, types):
        """``{event type: "Adjust score" action}`` in the API user's company.

        Types are unique per company (``score_api_code``); should two actions
        still answer one (a model moved to another company since), the one of
        the user's own company wins, then the oldest.
        """
        if not types:
            return {}
        company = self.env.company
        actions = (
            self.env["ir.actions.server"]
            .with_context(active_test=False)
            .search(
                [
                    ("state", "=", "lead_score"),
                    ("score_api_code", "in", list(types)),
                    ("score_model_id.company_id", "in", [False, company.id]),
                ],
                order="id desc",
            )
        )
        by_type = {}
        for action in actions.sorted(lambda a: a.score_model_id.company_id == company):
            by_type[action.score_api_code] = action
        return by_type

    def _archived_lines(self, actions):
        """``{action: line name}`` of the actions whose automation line is archived."""
        lines = (
            self.env["lead.scoring.automation"]
            .with_context(active_test=False)
            .search(
                [("action_id", "in", [action.id for action in actions]), ("active", "=", False)]
            )
        )
        return {line.action_id: line.name for line in lines}

    def _target_kind_error(self, event):
        """Why the record the event names cannot lead to what its type scores."""
        scoring_model = event.action.score_model_id
        target = scoring_model._target()
        if event.record_field == target.column:
            return None
        if target.model_name == "res.partner" and (
            event.email or self._partner_field(event.record_field)
        ):
            return None
        return self.env._(
            'Events of type "%(type)s" score %(model)s records: name them with "%(member)s".',
            type=event.type,
            model=target.model_name,
            member=target.column,
        )

    def _partner_field(self, record_field):
        """Whether the records ``record_field`` names have a stored customer
        (``partner_id``): an event on them scores that contact."""
        model_name = next(
            (
                t.model_name
                for t in registered_targets(self.env).values()
                if t.column == record_field
            ),
            None,
        )
        field = model_name and self.env[model_name]._fields.get("partner_id")
        return bool(field and field.store and field.comodel_name == "res.partner")

    # Scored records (one query per kind of reference) ----------------------

    def _resolve_targets(self, events):
        pending = undecided(events)
        rows = {}
        for target in registered_targets(self.env).values():
            rows[target.column] = self._read_records(
                target.model_name,
                {e.record_id for e in pending if e.record_field == target.column},
                with_partner=self._partner_field(target.column),
            )
        # Contacts scored through another record: a deal's customer.
        partners = rows.setdefault("partner_id", {})
        customers = {
            rows[e.record_field][e.record_id][2]
            for e in pending
            if e.record_field not in (None, e.action.score_model_id._target_column())
            and rows[e.record_field].get(e.record_id)
        }
        partners.update(self._read_records("res.partner", customers - {None} - partners.keys()))
        by_email = self._partners_by_email({e.email for e in pending if e.email})
        for event in pending:
            self._resolve_target(event, rows, by_email)

    def _read_records(self, model_name, ids, with_partner=False):
        """``{id: (active, company id, partner id)}`` of the existing ones among ``ids``."""
        if not ids:
            return {}
        records = self.env[model_name]
        records.flush_model(["active", "company_id", *(["partner_id"] if with_partner else [])])
        self.env.cr.execute(
            SQL(
                "SELECT id, active, company_id, %(partner)s FROM %(table)s WHERE id = ANY(%(ids)s)",
                partner=SQL.identifier("partner_id") if with_partner else SQL("NULL::int"),
                table=SQL.identifier(records._table),
                ids=list(ids),
            )
        )
        return {row[0]: row[1:] for row in self.env.cr.fetchall()}

    def _partners_by_email(self, emails):
        """``{normalized e-mail: (partner id, company id)}``: the oldest active contact."""
        if not emails:
            return {}
        self.env["res.partner"].flush_model(["email_normalized", "active", "company_id"])
        self.env.cr.execute(
            SQL(
                """
                SELECT DISTINCT ON (email_normalized) email_normalized, id, company_id
                  FROM res_partner
                 WHERE email_normalized = ANY(%s) AND active
                 ORDER BY email_normalized, id
                """,
                list(emails),
            )
        )
        return {
            email: (partner_id, company) for email, partner_id, company in self.env.cr.fetchall()
        }

    def _resolve_target(self, event, rows, by_email):
        """Set the event's scored record, or decide it is skipped."""
        scoring_model = event.action.score_model_id
        column = scoring_model._target_column()
        if event.email:
            found = by_email.get(event.email)
            if not found:
                if not event.create_contact:
                    event.decide(
                        "skipped",
                        self.env._(
                            "No contact has the e-mail address %(email)s. Send "
                            '"create_contact": true and a "name" to create one.',
                            email=event.email,
                        ),
                    )
                return
            event.target_id = found[0]
        else:
            row = rows[event.record_field].get(event.record_id)
            if not row or not row[0]:
                event.decide(
                    "skipped",
                    self.env._(
                        "%(member)s %(id)s does not exist or is archived.",
                        member=event.record_field,
                        id=event.record_id,
                    ),
                )
                return
            if event.record_field != column:
                # A deal of a contact model: its customer is scored.
                if not row[2]:
                    event.decide(
                        "skipped",
                        self.env._(
                            "%(member)s %(id)s has no customer to score.",
                            member=event.record_field,
                            id=event.record_id,
                        ),
                    )
                    return
                self._resolve_partner(event, row[2], rows)
                return
            event.target_id = event.record_id

    def _resolve_partner(self, event, partner_id, rows):
        row = rows["partner_id"].get(partner_id)
        if not row or not row[0]:
            event.decide(
                "skipped",
                self.env._(
                    "The customer of %(member)s %(id)s is archived.",
                    member=event.record_field,
                    id=event.record_id,
                ),
            )
            return
        event.target_id = partner_id

    # Idempotency keys (one statement per batch) ----------------------------

    def _claim(self, events):
        """Record the ids of the events that got this far, once per user: an id
        already known (an earlier request, or a concurrent one) makes its event
        a duplicate. The unique (user, id) index decides, so two requests at
        once cannot both score the same id.

        :return: the events whose id this request claimed
        """
        candidates = [e for e in events if e.action and e.status in (None, "skipped")]
        if not candidates:
            return []
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO lead_scoring_api_event (
                    user_id, name, event_type, action_id, status, points, target_model,
                    target_id, event_date, message,
                    create_uid, create_date, write_uid, write_date)
                SELECT %(uid)s, e.name, e.type, e.action_id, e.status, 0, e.target_model,
                       e.target_id, e.event_date, e.message, %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM unnest(%(names)s::varchar[], %(types)s::varchar[], %(actions)s::int[],
                              %(statuses)s::varchar[], %(models)s::varchar[],
                              %(targets)s::int[], %(dates)s::timestamp[], %(messages)s::varchar[])
                       AS e(name, type, action_id, status, target_model, target_id,
                            event_date, message)
                    ON CONFLICT (user_id, name) DO NOTHING
                RETURNING name
                """,
                uid=self.env.uid,
                now=now,
                names=[e.key for e in candidates],
                types=[e.type for e in candidates],
                actions=[e.action.id for e in candidates],
                statuses=[e.status or "scored" for e in candidates],
                models=[e.action.score_model_id.target_model for e in candidates],
                targets=[e.target_id for e in candidates],
                dates=[e.occurred_at or now for e in candidates],
                messages=[e.message or None for e in candidates],
            )
        )
        claimed_keys = {name for (name,) in self.env.cr.fetchall()}
        repeated = [e for e in candidates if e.key not in claimed_keys]
        self._mark_duplicates(repeated)
        return [e for e in candidates if e.key in claimed_keys]

    def _mark_duplicates(self, events):
        """Answer the events already received before with when and what they gave."""
        if not events:
            return
        self.env.cr.execute(
            SQL(
                """
                SELECT name, status, points, create_date, target_id FROM lead_scoring_api_event
                 WHERE user_id = %s AND name = ANY(%s)
                """,
                self.env.uid,
                [e.key for e in events],
            )
        )
        earlier = {name: row for name, *row in self.env.cr.fetchall()}
        statuses = dict(self._fields["status"]._description_selection(self.env))
        for event in events:
            status, points, received, event.target_id = earlier.get(
                event.key, ("scored", 0.0, None, None)
            )
            event.decide(
                "duplicate",
                self.env._(
                    "Already received on %(date)s UTC (%(status)s, %(points)s points).",
                    date=received.isoformat(sep=" ", timespec="seconds") if received else "?",
                    status=statuses.get(status, status),
                    points=format(points or 0.0, "g"),
                ),
            )

    def _store_outcomes(self, claimed):
        """Write what each claimed event gave onto its key (one statement)."""
        if not claimed:
            return
        self.env.cr.execute(
            SQL(
                """
                UPDATE lead_scoring_api_event k
                   SET status = o.status, points = o.points, target_id = o.target_id,
                       message = o.message
                  FROM unnest(%(names)s::varchar[], %(statuses)s::varchar[],
                              %(points)s::float8[], %(targets)s::int[], %(messages)s::varchar[])
                       AS o(name, status, points, target_id, message)
                 WHERE k.user_id = %(uid)s AND k.name = o.name
                """,
                uid=self.env.uid,
                names=[e.key for e in claimed],
                statuses=[e.status for e in claimed],
                points=[e.points for e in claimed],
                targets=[e.target_id for e in claimed],
                messages=[e.message or None for e in claimed],
            )
        )

    # Contacts to create, then the points ------------------------------------

    def _create_contacts(self, claimed):
        """Create the contacts the events asked for (one per e-mail address)."""
        wanted = {}
        for event in undecided(claimed):
            if event.email and not event.target_id:
                wanted.setdefault(event.email, event.name)
        if not wanted:
            return
        partners = self.env["res.partner"].create(
            [{"name": name, "email": email} for email, name in wanted.items()]
        )
        created = dict(zip(wanted, partners.ids, strict=True))
        for event in undecided(claimed):
            if event.email in created and not event.target_id:
                event.target_id = created[event.email]
                event.message = self.env._("Contact created.")

    def _score(self, claimed):
        by_action = {}
        for event in undecided(claimed):
            by_action.setdefault(event.action, []).append(event)
        for action, events in by_action.items():
            self._score_action(action, events)

    def _score_action(self, action, events):
        """Ledger lines for the events of one type, through the one award path
        (``ir.actions.server._lead_scoring_award``): company and segment
        gates, grading, cooldown around each event's date, cap and expiry as
        for every award; each event answered with what became of it."""
        now = fields.Datetime.now()
        awards = []
        for event in events:
            event.occurred_at = event.occurred_at or now
            reason = event.reason or action.name
            awards.append(Award(event.target_id, event.occurred_at, reason, key=event.key))
        action._lead_scoring_award(awards, "api")
        for event, award in zip(events, awards, strict=True):
            if award.refusal:
                event.points = 0.0
                event.decide("skipped", self._award_refusal_message(action, award))
            else:
                event.points = award.points
                event.decide("scored", event.message)
        self._refresh_decayed(action.score_model_id, events, now)

    def _award_refusal_message(self, action, award):
        """Why the award path gave an event nothing, in the API user's language."""
        scoring_model = action.score_model_id
        if award.refusal == INACTIVE and scoring_model.state == "draft":
            return self.env._(
                "Scoring model %(model)s is a draft: it scores nothing until published.",
                model=scoring_model.name,
            )
        messages = {
            INACTIVE: lambda: self.env._(
                'Scoring model "%(model)s" is archived.', model=scoring_model.name
            ),
            COMPANY: lambda: self.env._(
                "The record belongs to another company than scoring model %(model)s.",
                model=scoring_model.name,
            ),
            SEGMENT: lambda: self.env._(
                "The record is outside the segment of scoring model %(model)s.",
                model=scoring_model.name,
            ),
            EXPIRED: lambda: self.env._(
                "Its points would have expired on %(date)s UTC: nothing to add.",
                date=award.expire_date.isoformat(sep=" ", timespec="seconds"),
            ),
            COOLDOWN: lambda: self.env._(
                "This record got points of this type less than %(hours)s hours before "
                "or after this event.",
                hours=format(action.score_cooldown_hours, "g"),
            ),
            CAP: lambda: self._no_points_message(action),
        }
        return messages[award.refusal]()

    def _no_points_message(self, action):
        if action.score_max_points and action.score_points:
            return self.env._(
                "This record holds the most points this type gives (%(cap)s).",
                cap=format(action.score_max_points, "g"),
            )
        return self.env._("This event type gives no points.")

    def _refresh_decayed(self, scoring_model, events, now):
        """Re-sum the scores of records given back-dated points in a model with
        decay: ``_add_points`` counts new points undecayed."""
        if not scoring_model.decay_half_life_days:
            return
        stale = {e.target_id for e in events if e.status == "scored" and e.occurred_at < now}
        if stale:
            changed = self.env["lead.scoring.score"]._refresh_scores(scoring_model, now, stale)
            self.env["lead.scoring.point"]._after_scores_changed(scoring_model, changed)


# Messages of the parser's refusals (api/event.py, api/batch.py), worded in the
# language of ``env`` (the API user's): the parser returns codes, never text.


def _text_refusals(env):
    """Refusals of a text member (``id``, ``type``, ``reason``, ``email``, ``name``)."""
    return {
        "missing": lambda member: env._('"%(member)s" is missing.', member=member),
        # **params: one of them is called "max".
        "text": lambda **params: env._(
            '"%(member)s" must be a text of 1 to %(max)s characters.', **params
        ),
        "character": lambda member, character: env._(
            '"%(member)s" contains the character %(character)s, which is not allowed '
            "(control characters and invalid Unicode cannot be stored).",
            member=member,
            character=character,
        ),
        "email": lambda: env._('"email" is not a valid e-mail address.'),
    }


def _event_refusals(env):
    """Refusals of an event as a whole, of its record, date or contact."""
    return {
        "not_object": lambda: env._("An event must be a JSON object."),
        "points": lambda: env._(
            "An event cannot set its points: they come from its type (an "
            '"Event from the API" automation). Remove "points".'
        ),
        "target_members": lambda members: env._(
            "Name the scored record with exactly one of %(members)s.", members=members
        ),
        "record_id": lambda member: env._(
            '"%(member)s" must be a positive integer.', member=member
        ),
        "date_format": lambda: env._(
            '"occurred_at" must be an ISO 8601 date and time, e.g. 2026-11-20T10:00:00Z.'
        ),
        "date_future": lambda date, now: env._(
            '"occurred_at" %(date)s is in the future (now is %(now)s UTC).', date=date, now=now
        ),
        "create_contact_bool": lambda: env._('"create_contact" must be true or false.'),
        "create_contact_email": lambda: env._('"create_contact" needs the contact\'s "email".'),
        "repeated": lambda: env._("Repeated in this request."),
    }
