"""One event of the events API: its JSON object checked and normalised.

No database: what an event names is looked up later, by
``lead.scoring.api.event``. A refused event gets a :class:`Refusal` (a code and
its parameters), which that model turns into a message in the API user's
language; the parser itself translates nothing. Unit-tested by
``tests/test_api_parsing.py``.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from odoo.tools import email_normalize

from .payload import echo, forbidden_character

# Longest accepted value of each text member of an event.
MAX_LENGTHS = {"id": 128, "type": 64, "reason": 256, "email": 254, "name": 256}
# How far in the future an occurred_at may be (the sender's clock running ahead);
# such an event is dated now.
CLOCK_SKEW = timedelta(minutes=5)
STATUSES = ("scored", "duplicate", "skipped", "error")
# Text members that may span lines (tabs and line breaks allowed).
MULTILINE_MEMBERS = {"reason", "name"}
# Largest id PostgreSQL's integer columns hold.
MAX_RECORD_ID = 2**31 - 1


@dataclass(frozen=True)
class Refusal:
    """Why an event is refused: a code (see ``REFUSAL_CODES``) and the values
    its message names."""

    code: str
    params: dict = field(default_factory=dict)


# Every code a refusal of the parser may have, with the parameters it sets.
REFUSAL_CODES = {
    "not_object": (),
    "missing": ("member",),
    "text": ("member", "max"),
    "character": ("member", "character"),
    "points": (),
    "target_members": ("members",),
    "email": (),
    "record_id": ("member",),
    "date_format": (),
    "date_future": ("date", "now"),
    "create_contact_bool": (),
    "create_contact_email": (),
    "repeated": (),
}


class EventRefused(Exception):
    """Raised by a step of :func:`parse_event` with the refusal of the event."""

    def __init__(self, code, **params):
        super().__init__(code, params)
        self.refusal = Refusal(code, params)


@dataclass
class Event:
    """One event of a request, from its JSON object to its answer."""

    given_id: object = None  # the "id" as sent (made JSON-safe), echoed in the answer
    key: str | None = None  # the valid id: the idempotency key
    type: str | None = None
    email: str | None = None  # normalized
    record_field: str | None = None  # "partner_id", "lead_id": the record it names
    record_id: int | None = None
    occurred_at: datetime | None = None  # naive UTC
    reason: str | None = None
    create_contact: bool = False
    name: str | None = None
    action: object = None  # the "Adjust score" action (ir.actions.server) of its type
    target_id: int | None = None  # the scored record
    status: str | None = None  # None while undecided
    message: str = ""
    points: float = 0.0
    refusal: Refusal | None = None  # why it was refused, until its message is written

    def decide(self, status, message=""):
        self.status, self.message = status, message

    def refuse(self, status, refusal):
        """Decide ``status`` for a reason the caller words (``refusal``)."""
        self.status, self.refusal = status, refusal

    def answer(self):
        answer = {"id": self.given_id, "status": self.status, "points": self.points}
        if self.action and self.target_id:
            answer[self.action.score_model_id._target_column()] = self.target_id
        if self.message:
            answer["message"] = self.message
        return answer


def parse_event(raw, record_fields, now):
    """The :class:`Event` of one JSON value of the ``events`` list.

    :param raw: the value as decoded from the body
    :param record_fields: the members that name a scored record by id
        (``partner_id``, ``lead_id``, ...), in the order messages list them
    :param now: the current time, naive UTC
    :return: the event; refused (status ``error``, ``refusal`` set) when
        ``raw`` is not an acceptable event
    """
    event = Event()
    if not isinstance(raw, dict):
        event.refuse("error", Refusal("not_object"))
        return event
    event.given_id = echo(raw.get("id"))
    try:
        _parse_texts(event, raw)
        _parse_target(event, raw, record_fields)
        event.occurred_at = parse_occurred_at(raw.get("occurred_at"), now)
        _parse_create_contact(event, raw)
    except EventRefused as refused:
        event.refuse("error", refused.refusal)
    return event


def check_text(raw, member, required=False):
    """Refuse ``raw[member]`` unless it is an acceptable text (or absent and
    not ``required``).

    :raise EventRefused: ``missing``, ``text`` or ``character``
    """
    value = raw.get(member)
    if value is None:
        if required:
            raise EventRefused("missing", member=member)
        return
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_LENGTHS[member]:
        raise EventRefused("text", member=member, max=MAX_LENGTHS[member])
    character = forbidden_character(value, multiline=member in MULTILINE_MEMBERS)
    if character:
        raise EventRefused("character", member=member, character=character)


def _parse_texts(event, raw):
    check_text(raw, "id", required=True)
    check_text(raw, "type", required=True)
    check_text(raw, "reason")
    if "points" in raw:
        raise EventRefused("points")
    event.key, event.type, event.reason = raw["id"], raw["type"], raw.get("reason")


def _parse_target(event, raw, record_fields):
    """The scored record: by e-mail address or by the id of one record field."""
    members = ["email", *record_fields]
    given = [member for member in members if raw.get(member) is not None]
    if len(given) != 1:
        raise EventRefused("target_members", members=", ".join(f'"{member}"' for member in members))
    member, value = given[0], raw[given[0]]
    if member == "email":
        event.email = parse_email(raw)
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_RECORD_ID:
        raise EventRefused("record_id", member=member)
    event.record_field, event.record_id = member, value


def parse_email(raw):
    """The normalized address of ``raw["email"]``.

    :raise EventRefused: ``email`` when it is not a valid e-mail address
    """
    try:
        check_text(raw, "email")
    except EventRefused as refused:
        raise EventRefused("email") from refused
    email = email_normalize(raw["email"], strict=True)
    if not email:
        raise EventRefused("email")
    return email


def parse_occurred_at(value, now):
    """``occurred_at`` as a naive UTC datetime, None when not given.

    An aware time is converted to UTC, a naive one is taken as UTC. A time
    ahead of ``now`` by at most ``CLOCK_SKEW`` (the sender's clock) becomes
    ``now``.

    :raise EventRefused: ``date_format`` when not an ISO 8601 text,
        ``date_future`` when later than ``now`` plus the skew
    """
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise TypeError(value)
        moment = datetime.fromisoformat(value)
        if moment.tzinfo:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
    except (TypeError, ValueError, OverflowError) as error:
        raise EventRefused("date_format") from error
    if moment > now + CLOCK_SKEW:
        raise EventRefused("date_future", date=value, now=now.isoformat(timespec="seconds"))
    return min(moment, now)


def _parse_create_contact(event, raw):
    create = raw.get("create_contact", False)
    if not isinstance(create, bool):
        raise EventRefused("create_contact_bool")
    if not create:
        return
    if not event.email:
        raise EventRefused("create_contact_email")
    check_text(raw, "name", required=True)
    event.create_contact, event.name = True, raw["name"].strip()
