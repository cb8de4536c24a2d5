"""The events API's checks of one event and of a batch, without a database."""

from datetime import datetime, timedelta

from odoo.tests import BaseCase, tagged

from ..api.batch import MAX_EVENTS, batch_events, parse_batch
from ..api.event import CLOCK_SKEW, MAX_LENGTHS, REFUSAL_CODES, Event, Refusal, parse_event
from ..models.lead_scoring_api_event import _event_refusals, _text_refusals

RECORD_FIELDS = ["partner_id", "lead_id"]
NOW = datetime(2026, 11, 20, 10, 0, 0)


def parse(raw, now=NOW):
    return parse_event(raw, RECORD_FIELDS, now)


def event(**values):
    return {"id": "e-1", "type": "seminar_attended", "email": "anna@example.nl", **values}


def without(member, **values):
    raw = event(**values)
    del raw[member]
    return raw


@tagged("post_install", "-at_install")
class TestApiParsing(BaseCase):
    def assertRefused(self, raw, code, **params):
        parsed = parse(raw)
        self.assertEqual(parsed.status, "error", raw)
        self.assertEqual(parsed.refusal, Refusal(code, params), raw)
        return parsed

    def test_valid_event_by_email(self):
        parsed = parse(event(email=" Anna@Example.NL ", reason="Webinar\nop dinsdag"))
        self.assertIsNone(parsed.status, "undecided: the database steps decide")
        self.assertIsNone(parsed.refusal)
        self.assertEqual(parsed.given_id, "e-1")
        self.assertEqual(parsed.key, "e-1")
        self.assertEqual(parsed.type, "seminar_attended")
        self.assertEqual(parsed.email, "anna@example.nl", "normalized")
        self.assertEqual(parsed.reason, "Webinar\nop dinsdag", "a reason may span lines")
        self.assertIsNone(parsed.record_field)
        self.assertIsNone(parsed.occurred_at, "dated when scored")
        self.assertFalse(parsed.create_contact)

    def test_valid_event_by_record(self):
        parsed = parse(without("email", lead_id=2**31 - 1))
        self.assertIsNone(parsed.status)
        self.assertEqual((parsed.record_field, parsed.record_id), ("lead_id", 2**31 - 1))
        self.assertIsNone(parsed.email)

    def test_not_an_object(self):
        for raw in ([event()], "e-1", 7, None):
            parsed = self.assertRefused(raw, "not_object")
            self.assertIsNone(parsed.given_id)

    def test_id_and_type(self):
        self.assertRefused(without("id"), "missing", member="id")
        self.assertRefused(without("type"), "missing", member="type")
        for bad in ("", "   ", 12, ["e-1"], "x" * (MAX_LENGTHS["id"] + 1)):
            self.assertRefused(event(id=bad), "text", member="id", max=MAX_LENGTHS["id"])
        self.assertIsNone(parse(event(id="x" * MAX_LENGTHS["id"])).status, "at the limit")
        self.assertRefused(
            event(type="t" * (MAX_LENGTHS["type"] + 1)),
            "text",
            member="type",
            max=MAX_LENGTHS["type"],
        )
        # The id is echoed as sent, made JSON-safe, even when refused.
        self.assertEqual(parse(event(id=12)).given_id, 12)
        self.assertIsNone(parse(event(id=float("nan"))).given_id)
        self.assertEqual(parse(event(id="a\ud800")).given_id, "a\ufffd")

    def test_forbidden_characters(self):
        self.assertRefused(event(id="e\x00"), "character", member="id", character="U+0000")
        self.assertRefused(event(type="a\nb"), "character", member="type", character="U+000A")
        self.assertRefused(event(reason="ok\x07"), "character", member="reason", character="U+0007")
        self.assertRefused(event(id="e\udfff"), "character", member="id", character="U+DFFF")

    def test_points_cannot_be_sent(self):
        self.assertRefused(event(points=100), "points")
        self.assertRefused(event(points=None), "points")  # sent is enough

    def test_exactly_one_target(self):
        members = '"email", "partner_id", "lead_id"'
        self.assertRefused(without("email"), "target_members", members=members)
        self.assertRefused(event(partner_id=4), "target_members", members=members)
        self.assertRefused(
            without("email", partner_id=4, lead_id=5), "target_members", members=members
        )
        # A member sent as null names nothing.
        self.assertIsNone(parse(event(partner_id=None)).status)

    def test_email(self):
        for bad in ("anna", "anna@", 42, "", f"{'a' * 250}@example.nl", "a\x00@example.nl"):
            self.assertRefused(event(email=bad), "email")

    def test_record_id(self):
        for bad in (True, 0, -3, "5", 5.0, 2**31, 10**50):
            self.assertRefused(without("email", partner_id=bad), "record_id", member="partner_id")

    def test_occurred_at_naive_and_aware(self):
        naive = parse(event(occurred_at="2026-11-19T08:30:00"))
        self.assertEqual(naive.occurred_at, datetime(2026, 11, 19, 8, 30), "naive is UTC")
        aware = parse(event(occurred_at="2026-11-19T10:30:00+02:00"))
        self.assertEqual(aware.occurred_at, datetime(2026, 11, 19, 8, 30))
        self.assertIsNone(aware.occurred_at.tzinfo)
        zulu = parse(event(occurred_at="2026-11-19T08:30:00Z"))
        self.assertEqual(zulu.occurred_at, datetime(2026, 11, 19, 8, 30))
        # No rule on old dates here: whether old points still count depends on
        # the type's expiry, which the model checks.
        old = parse(event(occurred_at="2001-01-01T00:00:00"))
        self.assertEqual(old.occurred_at, datetime(2001, 1, 1))

    def test_occurred_at_in_the_future(self):
        ahead = NOW + CLOCK_SKEW
        within = parse(event(occurred_at=ahead.isoformat()))
        self.assertIsNone(within.status, "the sender's clock may run ahead a little")
        self.assertEqual(within.occurred_at, NOW, "dated now")
        late = (ahead + timedelta(seconds=1)).isoformat()
        self.assertRefused(
            event(occurred_at=late), "date_future", date=late, now="2026-11-20T10:00:00"
        )
        # An aware time is compared in UTC: 12:04 in Amsterdam (winter) is 11:04 UTC.
        self.assertRefused(
            event(occurred_at="2026-11-20T12:04:00+01:00"),
            "date_future",
            date="2026-11-20T12:04:00+01:00",
            now="2026-11-20T10:00:00",
        )
        self.assertIsNone(parse(event(occurred_at="2026-11-20T11:04:00+01:00")).status)

    def test_occurred_at_format(self):
        for bad in (
            "yesterday",
            "20-11-2026",
            "",
            1763632800,
            ["2026-11-20"],
            "9999-12-31T23:59:59-23:59",
        ):
            self.assertRefused(event(occurred_at=bad), "date_format")

    def test_create_contact(self):
        parsed = parse(event(create_contact=True, name="  Anna de Vries "))
        self.assertIsNone(parsed.status)
        self.assertTrue(parsed.create_contact)
        self.assertEqual(parsed.name, "Anna de Vries")
        self.assertFalse(parse(event(create_contact=False, name=12)).create_contact)
        for bad in ("yes", 1, None):
            self.assertRefused(event(create_contact=bad), "create_contact_bool")
        self.assertRefused(
            without("email", partner_id=3, create_contact=True, name="Anna"),
            "create_contact_email",
        )
        self.assertRefused(event(create_contact=True), "missing", member="name")
        self.assertRefused(
            event(create_contact=True, name=" "), "text", member="name", max=MAX_LENGTHS["name"]
        )

    def test_first_problem_wins(self):
        # In the order id, type, reason, points, record, date, contact.
        self.assertRefused({"type": 1, "points": 3}, "missing", member="id")
        self.assertRefused(event(points=3, occurred_at="never"), "points")
        self.assertRefused(
            without("email", occurred_at="never"),
            "target_members",
            members='"email", "partner_id", "lead_id"',
        )

    def test_answer(self):
        parsed = parse(event(points=1))
        parsed.message = "worded by the model"
        self.assertEqual(
            parsed.answer(),
            {"id": "e-1", "status": "error", "points": 0.0, "message": "worded by the model"},
        )
        self.assertEqual(
            Event(given_id=3, status="scored").answer(),
            {"id": 3, "status": "scored", "points": 0.0},
        )

    def test_every_refusal_has_its_message(self):
        class Env:
            @staticmethod
            def _(source, **params):
                return source % params

        messages = {**_text_refusals(Env), **_event_refusals(Env)}
        self.assertEqual(set(messages), set(REFUSAL_CODES))
        for code, params in REFUSAL_CODES.items():
            text = messages[code](**{name: f"<{name}>" for name in params})
            for name in params:
                self.assertIn(f"<{name}>", text, code)


@tagged("post_install", "-at_install")
class TestApiBatch(BaseCase):
    def test_batch_size(self):
        self.assertEqual(batch_events({"events": [{}]}), ([{}], None))
        events = [{}] * MAX_EVENTS
        self.assertIs(batch_events({"events": events})[0], events)
        self.assertEqual(
            batch_events({"events": []}),
            (None, Refusal("batch_size", {"max": MAX_EVENTS, "count": 0})),
        )
        self.assertEqual(
            batch_events({"events": [{}] * (MAX_EVENTS + 1)}),
            (None, Refusal("batch_size", {"max": MAX_EVENTS, "count": MAX_EVENTS + 1})),
        )

    def test_not_a_batch(self):
        for body in ([{}], "events", None, {}, {"events": {"id": "e-1"}}, {"Events": [{}]}):
            self.assertEqual(batch_events(body), (None, Refusal("not_a_batch")), body)

    def test_repeated_ids(self):
        events = parse_batch(
            [
                event(id="a"),
                event(id="b"),
                event(id="a"),
                event(id="a", email="bad"),
                event(id="a"),
            ],
            RECORD_FIELDS,
            NOW,
        )
        self.assertEqual(
            [(e.status, e.refusal and e.refusal.code) for e in events],
            [
                (None, None),
                (None, None),
                ("duplicate", "repeated"),
                ("error", "email"),
                ("duplicate", "repeated"),
            ],
        )

    def test_refused_event_does_not_claim_its_id(self):
        events = parse_batch([event(id="a", email="bad"), event(id="a")], RECORD_FIELDS, NOW)
        self.assertEqual([e.status for e in events], ["error", None])

    def test_order_and_record_fields(self):
        events = parse_batch(
            [without("email", ticket_id=4), "x", event(id="c")], ["partner_id", "ticket_id"], NOW
        )
        self.assertEqual(events[0].record_field, "ticket_id", "any registered target's column")
        self.assertEqual([e.given_id for e in events], ["e-1", None, "c"])
        self.assertEqual([e.status for e in events], [None, "error", None])
