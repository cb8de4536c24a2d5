"""The events API under hostile input: every request gets a JSON answer,
never a 5xx, and one bad event never costs the others their points."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo.tests import BaseCase, tagged
from odoo.tools import mute_logger

from ..api.payload import (
    MAX_BODY_BYTES,
    MAX_DEPTH,
    BodyError,
    check_size,
    echo,
    forbidden_character,
    parse_body,
    too_deep,
)
from .common import HostileRequestChecks, LeadScoringHttpCase
from .test_events_api import EVENTS_URL, EventsApiFixtures

# Any code point, surrogates and control characters included.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=12)
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**60), max_value=10**60)
    | st.floats()
    | ANY_TEXT
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(ANY_TEXT, children, max_size=3)
    ),
    max_leaves=6,
)
MEMBERS = ("id", "type", "email", "partner_id", "lead_id", "reason", "occurred_at")


@tagged("post_install", "-at_install")
class TestApiPayload(BaseCase):
    """The body and text checks in plain Python."""

    def test_depth_is_measured_without_recursion(self):
        self.assertTrue(too_deep("[" * 100_000))
        self.assertTrue(too_deep('{"a":' * 50_000))
        self.assertFalse(too_deep("[" * MAX_DEPTH + "]" * MAX_DEPTH))
        self.assertTrue(too_deep("[" * (MAX_DEPTH + 1)))
        # Brackets inside strings, escaped quotes included, do not count.
        self.assertFalse(too_deep(json.dumps({"events": [{"id": '[[[\\"' * 100}]})))

    def test_deep_large_and_broken_bodies_are_refused(self):
        cases = [
            (b"[" * 100_000, "too_deep"),
            (b'{"events":' + b'{"a":' * 50_000, "too_deep"),
            (b"\xff\xfe", "encoding"),
            (b'{"events": [', "json"),
            (b" " * (MAX_BODY_BYTES + 1), "too_large"),
        ]
        for body, reason in cases:
            with self.subTest(reason=reason), self.assertRaises(BodyError) as caught:
                parse_body(body)
            self.assertEqual(caught.exception.reason, reason)
        with self.assertRaises(BodyError):
            check_size(MAX_BODY_BYTES + 1)
        check_size(None)

    def test_numbers_too_long_for_an_int_stay_numbers(self):
        body = parse_body(b'{"events": [{"partner_id": ' + b"9" * 5000 + b"}]}")
        self.assertEqual(body["events"][0]["partner_id"], float("inf"))
        self.assertEqual(parse_body(b"[12, -7]"), [12, -7])

    def test_forbidden_characters(self):
        self.assertEqual(forbidden_character("a\x00b"), "U+0000")
        self.assertEqual(forbidden_character("a\ud800"), "U+D800")
        self.assertEqual(forbidden_character("bel\x07"), "U+0007")
        self.assertEqual(forbidden_character("two\nlines"), "U+000A")
        self.assertIsNone(forbidden_character("two\nlines\tok", multiline=True))
        self.assertIsNone(forbidden_character("Zoë 🚀 één"))

    def test_echo_is_always_encodable(self):
        self.assertEqual(echo("w-\ud800"), "w-\ufffd")
        self.assertEqual(echo(7), 7)
        self.assertIsNone(echo(float("nan")))
        self.assertIsNone(echo({"nested": "id"}))
        json.dumps(echo("\udfff\x00"), ensure_ascii=False).encode("utf-8")


@tagged("post_install", "-at_install")
class TestEventsApiHostile(HostileRequestChecks, EventsApiFixtures, LeadScoringHttpCase):
    """Hostile requests over real HTTP."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.integration_key = cls.api_key(cls.integration)

    def post(self, data):
        """POST raw bytes; the answer, checked to be JSON and not a 5xx."""
        response = self.opener.post(
            self.base_url() + EVENTS_URL,
            data=data,
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.integration_key}",
            },
        )
        self.env.invalidate_all()
        self.assertLess(response.status_code, 500, response.text[:300])
        self.assertEqual(response.headers["Content-Type"].split(";")[0], "application/json")
        return response.status_code, response.json()

    def post_events(self, events):
        # ensure_ascii: lone surrogates travel as valid JSON escapes ("\ud800").
        return self.post(json.dumps({"events": events}, ensure_ascii=True).encode())

    def test_nul_and_surrogates_are_refused_per_event(self):
        bad = []
        for member in ("id", "type", "reason"):
            for character in ("\x00", "\ud800"):
                event = self.event(f"h-{member}-{ord(character)}")
                event[member] = f"bad{character}value"
                bad.append(event)
        before = self.ledger_size()
        status, body = self.post_events([self.event("h-ok-1"), *bad, self.event("h-ok-2")])
        self.assertEqual(status, 200)
        results = body["results"]
        self.assertEqual(len(results), len(bad) + 2)
        self.assertEqual([results[0]["status"], results[-1]["status"]], ["scored", "scored"])
        for result in results[1:-1]:
            self.assertEqual(result["status"], "error")
            self.assertIn("not allowed", result["message"])
        self.assertEqual(results[2]["id"], "bad\ufffdvalue", "the id is echoed, made valid")
        self.assertEqual(self.ledger_size() - before, 2)
        self.assertEqual(self.keys().mapped("name"), ["h-ok-2", "h-ok-1"])

    @mute_logger("odoo.http")
    def test_deep_or_large_bodies_are_a_json_400(self):
        deep_arrays = b'{"events": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        deep_objects = b'{"events": [' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"]}"
        large = json.dumps({"events": [self.event("big", reason="x" * MAX_BODY_BYTES)]}).encode()
        for data, message in (
            (deep_arrays, f"more than {MAX_DEPTH} levels"),
            (deep_objects, f"more than {MAX_DEPTH} levels"),
            (large, f"larger than {MAX_BODY_BYTES} bytes"),
        ):
            with self.subTest(message=message, size=len(data)):
                status, body = self.post(data)
                self.assertEqual(status, 400)
                self.assertIn(message, body["error"])
        self.assertFalse(self.keys())

    @mute_logger("odoo.addons.lead_scoring.models.lead_scoring_model")
    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def test_any_batch_gets_one_json_answer_per_event(self, data):
        """Property: whatever the events hold, the answer is JSON with one
        result per event, and the ledger grows by the number scored."""
        valid = self.event("p")
        events = data.draw(
            st.lists(
                st.one_of(
                    JSON_VALUES,
                    st.fixed_dictionaries(
                        {},
                        optional={
                            member: st.one_of(st.just(valid.get(member)), ANY_TEXT, JSON_VALUES)
                            for member in MEMBERS
                        },
                    ),
                    st.builds(self.event, ANY_TEXT),
                ),
                min_size=1,
                max_size=6,
            )
        )
        before = self.ledger_size()
        status, body = self.post_events(events)
        self.assertEqual(status, 200, body)
        results = body["results"]
        self.assertEqual(len(results), len(events))
        for result in results:
            self.assertIn(result["status"], ("scored", "duplicate", "skipped", "error"))
        scored = sum(result["status"] == "scored" for result in results)
        self.assertEqual(self.ledger_size() - before, scored)
