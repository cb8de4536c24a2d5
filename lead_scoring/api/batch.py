"""A request of the events API as a batch of events, checked without a database.

The body must be ``{"events": [...]}`` with 1 to ``MAX_EVENTS`` events; each
is parsed by :func:`.event.parse_event`, and an event id given twice in one
request counts once. Unit-tested by ``tests/test_api_parsing.py``.
"""

from .event import Refusal, parse_event

# Events per request.
MAX_EVENTS = 1000


def batch_events(body):
    """The ``events`` list of a decoded request body.

    :return: ``(events, None)``, or ``(None, refusal)`` with the code
        ``not_a_batch`` (not an object with an ``events`` list) or
        ``batch_size`` (``max``, ``count``: not 1 to ``MAX_EVENTS`` events)
    """
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(events, list):
        return None, Refusal("not_a_batch")
    if not 1 <= len(events) <= MAX_EVENTS:
        return None, Refusal("batch_size", {"max": MAX_EVENTS, "count": len(events)})
    return events, None


def parse_batch(payload, record_fields, now):
    """The events of one request, in its order: each parsed, and the later of
    two with the same id refused as a ``duplicate`` (code ``repeated``).

    :param payload: the ``events`` list
    :param record_fields: the members that name a scored record by id
    :param now: the current time, naive UTC
    """
    events = [parse_event(raw, record_fields, now) for raw in payload]
    mark_repeated(events)
    return events


def mark_repeated(events):
    """Refuse the events whose id an earlier valid event of the list has."""
    seen = set()
    for event in undecided(events):
        if event.key in seen:
            event.refuse("duplicate", Refusal("repeated"))
        seen.add(event.key)


def undecided(events):
    """The events not answered yet."""
    return [event for event in events if event.status is None]
