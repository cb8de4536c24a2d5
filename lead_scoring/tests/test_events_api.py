import json
import threading
import time
from datetime import timedelta

from dateutil.relativedelta import relativedelta
from freezegun import freeze_time
from psycopg2 import OperationalError

from odoo import SUPERUSER_ID, api, fields
from odoo.exceptions import ValidationError
from odoo.service.model import PG_CONCURRENCY_ERRORS_TO_RETRY
from odoo.tests import BaseCase, get_db_name, new_test_user, tagged
from odoo.tools import file_open, mute_logger

from ..models.lead_scoring_api_event import KEY_RETENTION_DAYS, MAX_EVENTS, MAX_LENGTHS, STATUSES
from .common import LeadScoringCase, LeadScoringHttpCase

EVENTS_URL = "/lead_scoring/v1/events"


class EventsApiFixtures:
    """An engagement model answering "seminar_attended" (+15, two months), a
    deal model answering "quote_viewed" (+10), and API keys of an
    integration user, a scoring manager and a sales rep."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.integration = new_test_user(
            cls.env,
            login="ls_integration",
            groups="base.group_user,lead_scoring.group_lead_scoring_api",
            name="Webinar Platform",
        )
        cls.engagement = cls.create_model("Betrokkenheid", sequence=1)
        cls.webinar = cls.add_api_line(cls.engagement, "seminar_attended", 15.0, expire_after=2)
        cls.deals = cls.create_model("Dealkwaliteit", target="deal", sequence=1)
        cls.quote = cls.add_api_line(cls.deals, "quote_viewed", 10.0)
        cls.lead = cls.env["crm.lead"].create(
            {"name": "Zonnepanelen", "type": "opportunity", "partner_id": cls.bram.id}
        )
        cls.past = fields.Datetime.now().replace(microsecond=0) - timedelta(days=3)

    @classmethod
    def add_api_line(cls, scoring_model, code, points, user=None, **values):
        """An "Event from the API" line, created by a scoring manager."""
        return (
            cls.env["lead.scoring.automation"]
            .with_user(user or cls.manager)
            .create(
                {
                    "model_id": scoring_model.id,
                    "name": f"API {code}",
                    "trigger": "api_event",
                    "api_code": code,
                    "points": points,
                    **values,
                }
            )
            .with_env(cls.env)
        )

    @classmethod
    def api_key(cls, user):
        return (
            cls.env["res.users.apikeys"]
            .with_user(user)
            .sudo()
            ._generate(None, "events", fields.Datetime.now() + timedelta(days=30))
        )

    def receive(self, *events, user=None):
        """What the endpoint does after its checks, without HTTP."""
        env = self.env(user=user or self.integration, su=True)
        return env["lead.scoring.api.event"]._receive(list(events))

    def event(self, key, **values):
        return {"id": key, "type": "seminar_attended", "email": self.anna.email, **values}

    def keys(self, user=None):
        return self.env["lead.scoring.api.event"].search(
            [("user_id", "=", (user or self.integration).id)]
        )


@tagged("post_install", "-at_install")
class TestEventsApiHttp(EventsApiFixtures, LeadScoringHttpCase):
    """The endpoint through real HTTP: authentication, answers, bad input."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.integration_key = cls.api_key(cls.integration)
        cls.manager_key = cls.api_key(cls.manager)
        cls.salesman_key = cls.api_key(cls.salesman)

    def post(self, body, key=None, raw=False):
        headers = {"Content-Type": "application/json"}
        if key is not False:
            headers["Authorization"] = f"Bearer {key or self.integration_key}"
        data = body if raw else json.dumps(body)
        response = self.opener.post(self.base_url() + EVENTS_URL, data=data, headers=headers)
        self.env.invalidate_all()
        return response

    def results(self, *events, key=None):
        response = self.post({"events": list(events)}, key=key)
        self.assertEqual(response.status_code, 200, response.text)
        return response.json()["results"]

    def test_scored_event_writes_a_dated_api_line(self):
        (result,) = self.results(
            self.event("w-1", occurred_at=f"{self.past.isoformat()}Z", reason="Webinar Slimmer")
        )
        self.assertEqual(
            result,
            {"id": "w-1", "status": "scored", "points": 15.0, "partner_id": self.anna.id},
        )
        line = self.lines_of(self.engagement, self.anna)
        self.assertEqual(
            (line.source, line.action_id, line.reason, line.points, line.date, line.expire_date),
            (
                "api",
                self.webinar.action_id,
                "Webinar Slimmer",
                15.0,
                self.past,
                self.past + relativedelta(months=2),
            ),
        )
        self.assertEqual(line.create_uid, self.integration)
        self.assertEqual(self.score_of(self.engagement, self.anna), 15.0)
        self.assertEqual(self.anna.contact_score, 15.0)
        key = self.keys()
        self.assertEqual(
            (key.name, key.status, key.points, key.target_model, key.target_id),
            ("w-1", "scored", 15.0, "res.partner", self.anna.id),
        )

    def test_reason_defaults_to_the_automation_name(self):
        self.results(self.event("w-1"))
        self.assertEqual(self.lines_of(self.engagement, self.anna).reason, "API seminar_attended")

    def test_repeated_id_is_a_duplicate_across_calls_and_within_a_call(self):
        self.results(self.event("w-1"))
        first, second, other = self.results(self.event("w-1"), self.event("w-2"), self.event("w-2"))
        self.assertEqual((first["status"], first["points"]), ("duplicate", 0.0))
        self.assertIn("Already received", first["message"])
        self.assertEqual(second["status"], "scored")
        self.assertEqual(
            (other["status"], other["message"]), ("duplicate", "Repeated in this request.")
        )
        self.assertEqual(len(self.lines_of(self.engagement, self.anna)), 2)
        self.assertEqual(self.score_of(self.engagement, self.anna), 30.0)

    def test_ids_are_per_api_user(self):
        self.results(self.event("w-1"))
        (result,) = self.results(self.event("w-1"), key=self.manager_key)
        self.assertEqual(result["status"], "scored")

    def test_unknown_email_is_skipped_unless_a_contact_is_created(self):
        unknown = {"id": "w-1", "type": "seminar_attended", "email": "Sanne@Example.nl"}
        (skipped,) = self.results(unknown)
        self.assertEqual(skipped["status"], "skipped")
        self.assertIn("No contact has the e-mail address sanne@example.nl", skipped["message"])
        (created,) = self.results(
            dict(unknown, id="w-2", create_contact=True, name="Sanne Visser"),
            dict(unknown, id="w-3", create_contact=True, name="Sanne V."),
        )[:1]
        sanne = self.env["res.partner"].search([("email_normalized", "=", "sanne@example.nl")])
        self.assertEqual(sanne.name, "Sanne Visser", "one contact for both events")
        self.assertEqual(
            (created["status"], created["points"], created["partner_id"]),
            ("scored", 15.0, sanne.id),
        )
        self.assertEqual(self.score_of(self.engagement, sanne), 30.0)

    def test_records_by_id(self):
        archived = self.env["res.partner"].create({"name": "Gone", "active": False})
        results = self.results(
            {"id": "p-1", "type": "seminar_attended", "partner_id": self.bram.id},
            {"id": "p-2", "type": "seminar_attended", "partner_id": archived.id},
            {"id": "p-3", "type": "seminar_attended", "partner_id": 2_000_000_000},
            {"id": "p-4", "type": "seminar_attended", "lead_id": self.lead.id},
            {"id": "d-1", "type": "quote_viewed", "lead_id": self.lead.id},
            {"id": "d-2", "type": "quote_viewed", "email": self.bram.email},
        )
        statuses = [(r["status"], r.get("partner_id"), r.get("lead_id")) for r in results]
        self.assertEqual(
            statuses,
            [
                ("scored", self.bram.id, None),
                ("skipped", None, None),
                ("skipped", None, None),
                ("scored", self.bram.id, None),  # a deal's customer
                ("scored", None, self.lead.id),
                ("error", None, None),
            ],
        )
        self.assertIn("does not exist or is archived", results[1]["message"])
        self.assertIn('name them with "lead_id"', results[5]["message"])
        self.assertEqual(self.score_of(self.engagement, self.bram), 30.0)
        self.assertEqual(self.score_of(self.deals, self.lead), 10.0)
        self.assertEqual(self.lead.deal_score, 10.0)

    def test_archived_lead_is_skipped(self):
        self.lead.action_archive()
        (result,) = self.results({"id": "d-1", "type": "quote_viewed", "lead_id": self.lead.id})
        self.assertEqual(result["status"], "skipped")

    def test_record_outside_the_segment_is_skipped(self):
        self.engagement.domain = "[('country_id.code', '=', 'NL')]"
        anna, bram = self.results(self.event("w-1"), self.event("w-2", email=self.bram.email))
        self.assertEqual(anna["status"], "scored")
        self.assertEqual((bram["status"], bram["points"]), ("skipped", 0.0))
        self.assertIn("outside the segment of scoring model Betrokkenheid", bram["message"])
        self.assertFalse(self.lines_of(self.engagement, self.bram))
        self.assertEqual(self.keys().filtered(lambda k: k.name == "w-2").status, "skipped")

    def test_unknown_type_is_an_error_that_can_be_retried(self):
        (result,) = self.results(self.event("w-1", type="demo_requested"))
        self.assertEqual(
            (result["status"], result["message"]),
            ("error", 'Unknown event type "demo_requested".'),
        )
        self.assertFalse(self.keys(), "an event in error is not remembered")
        self.add_api_line(self.engagement, "demo_requested", 25.0)
        (result,) = self.results(self.event("w-1", type="demo_requested"))
        self.assertEqual((result["status"], result["points"]), ("scored", 25.0))

    def test_archived_scoring_model_or_automation_is_skipped(self):
        self.engagement.active = False
        (result,) = self.results(self.event("w-1"))
        self.assertEqual(result["status"], "skipped")
        self.assertIn("archived", result["message"])
        self.engagement.active = True
        self.webinar.active = False
        (result,) = self.results(self.event("w-2"))
        self.assertEqual(result["status"], "skipped")
        self.assertFalse(self.lines_of(self.engagement, self.anna))

    def test_grade_multiplies_api_points(self):
        self.anna.function = "CEO"
        grade = self.env["lead.scoring.grade"].create(
            {
                "model_id": self.engagement.id,
                "name": "C-level",
                "domain": "[('function', 'ilike', 'CEO')]",
                "multiplier": 2,
            }
        )
        anna, bram = self.results(self.event("w-1"), self.event("w-2", email=self.bram.email))
        self.assertEqual((anna["points"], bram["points"]), (30.0, 15.0))
        line = self.lines_of(self.engagement, self.anna)
        self.assertEqual((line.points, line.multiplier, line.grade_id), (30.0, 2.0, grade))
        self.assertEqual(self.keys().filtered(lambda k: k.name == "w-1").points, 30.0)

    def test_cooldown_and_cap_apply_within_and_across_batches(self):
        self.webinar.cooldown_hours = 24
        # Cooldown counts from the lines' dates: one from 3 days ago does not block.
        results = self.results(
            self.event("w-1", occurred_at=self.past.isoformat()),
            self.event("w-2"),
            self.event("w-3"),
        )
        self.assertEqual([r["status"] for r in results], ["scored", "scored", "skipped"])
        self.assertIn("less than 24 hours before or after this event", results[2]["message"])
        (later,) = self.results(self.event("w-4"))
        self.assertEqual(later["status"], "skipped")
        self.webinar.write({"cooldown_hours": 0, "max_points": 40})
        capped, full = self.results(self.event("w-5"), self.event("w-6", email=self.bram.email))
        self.assertEqual((capped["points"], full["points"]), (10.0, 15.0))
        (nothing,) = self.results(self.event("w-7"))
        self.assertEqual(nothing["status"], "skipped")
        self.assertIn("holds the most points this type gives (40)", nothing["message"])
        self.assertEqual(self.score_of(self.engagement, self.anna), 40.0)

    def test_occurred_at_in_the_future_and_clock_skew(self):
        now = fields.Datetime.now()
        ahead, skewed, aware = self.results(
            self.event("w-1", occurred_at=(now + timedelta(hours=1)).isoformat()),
            self.event("w-2", occurred_at=(now + timedelta(minutes=2)).isoformat()),
            self.event("w-3", occurred_at=(self.past.isoformat() + "+02:00")),
        )
        self.assertEqual(ahead["status"], "error")
        self.assertIn("is in the future", ahead["message"])
        self.assertEqual((skewed["status"], aware["status"]), ("scored", "scored"))
        dates = self.lines_of(self.engagement, self.anna).mapped("date")
        self.assertIn(self.past - timedelta(hours=2), dates, "offsets are converted to UTC")
        self.assertTrue(all(date <= fields.Datetime.now() for date in dates), "never in the future")

    def test_points_counted_from_occurred_at_expire_from_it(self):
        occurred = fields.Datetime.now().replace(microsecond=0) - relativedelta(months=2, days=-1)
        late = occurred - timedelta(days=2)
        fresh, expired = self.results(
            self.event("w-1", occurred_at=occurred.isoformat()),
            self.event("w-2", occurred_at=late.isoformat()),
        )
        self.assertEqual(fresh["status"], "scored")
        self.assertEqual(expired["status"], "skipped")
        self.assertIn("would have expired", expired["message"])
        self.assertEqual(self.score_of(self.engagement, self.anna), 15.0)
        with freeze_time(occurred + relativedelta(months=2) + timedelta(minutes=1)):
            self.recompute()
        self.assertEqual(self.score_of(self.engagement, self.anna), 0.0)

    def test_bad_events_get_a_message_and_leave_nothing(self):
        long_text = "x" * 300
        bad = [
            ({"type": "seminar_attended", "email": self.anna.email}, '"id" is missing.'),
            (self.event(7), '"id" must be a text of 1 to 128 characters.'),
            (self.event("x" * 129), '"id" must be a text of 1 to 128 characters.'),
            (self.event("b-1", type=None), '"type" is missing.'),
            (self.event("b-2", type=["webinar"]), '"type" must be a text'),
            (self.event("b-3", email=None), "exactly one of"),
            (self.event("b-4", partner_id=self.anna.id), "exactly one of"),
            (self.event("b-5", email="not an address"), "not a valid e-mail address"),
            (self.event("b-6", email=f"{'a' * 250}@example.nl"), '"email" is not a valid'),
            ({"id": "b-7", "type": "seminar_attended", "partner_id": "7"}, "positive integer"),
            ({"id": "b-8", "type": "seminar_attended", "partner_id": 7.5}, "positive integer"),
            ({"id": "b-9", "type": "seminar_attended", "lead_id": True}, "positive integer"),
            ({"id": "b-10", "type": "seminar_attended", "lead_id": -3}, "positive integer"),
            (self.event("b-11", points=50), "cannot set its points"),
            (self.event("b-12", occurred_at="yesterday"), "ISO 8601"),
            (self.event("b-13", occurred_at=1700000000), "ISO 8601"),
            (self.event("b-14", reason=long_text), '"reason" must be a text of 1 to 256'),
            (self.event("b-15", create_contact="yes"), "true or false"),
            (self.event("b-16", email="new@example.nl", create_contact=True), '"name" is missing'),
            (
                self.event("b-17", email="new@example.nl", create_contact=True, name=long_text),
                '"name" must be a text of 1 to 256',
            ),
            ("webinar", "An event must be a JSON object."),
        ]
        results = self.results(*(event for event, _message in bad), self.event("ok"))
        for (event, message), result in zip(bad, results, strict=False):
            with self.subTest(event=event):
                self.assertEqual(result["status"], "error")
                self.assertIn(message, result["message"])
        self.assertEqual(results[-1]["status"], "scored", "one bad event rejects no other")
        self.assertEqual(self.keys().mapped("name"), ["ok"])
        self.assertEqual(len(self.lines_of(self.engagement, self.anna)), 1)
        self.assertFalse(self.env["res.partner"].search([("email", "=", "new@example.nl")]))

    def test_an_event_in_error_does_not_hide_a_valid_one_with_its_id(self):
        bad, good = self.results(self.event("w-1", reason=""), self.event("w-1"))
        self.assertEqual((bad["status"], good["status"]), ("error", "scored"))

    @mute_logger("odoo.addons.lead_scoring.controllers.main")
    def test_authentication_and_groups(self):
        body = {"events": [self.event("w-1")]}
        response = self.post(body, key=False)
        self.assertEqual(response.status_code, 401)
        self.assertIn("Missing API key", response.json()["error"])
        self.assertIn("Bearer", response.headers["WWW-Authenticate"])
        response = self.post(body, key="0123456789abcdef0123456789abcdef01234567")
        self.assertEqual(
            (response.status_code, response.json()["error"]), (401, "Invalid or expired API key.")
        )
        response = self.post(body, key=self.salesman_key)
        self.assertEqual(response.status_code, 403)
        self.assertIn("Lead Scoring: API", response.json()["error"])
        self.assertFalse(self.lines_of(self.engagement, self.anna))
        self.assertEqual(self.post(body, key=self.manager_key).status_code, 200)
        self.assertEqual(self.score_of(self.engagement, self.anna), 15.0)

    def test_messages_in_the_users_language(self):
        self.env["res.lang"]._activate_lang("nl_NL")
        self.env["ir.module.module"]._load_module_terms(["lead_scoring"], ["nl_NL"], overwrite=True)
        self.integration.lang = "nl_NL"
        (result,) = self.results(self.event("w-1", type="nope"))
        self.assertEqual(result["message"], 'Onbekend gebeurtenistype "nope".')
        response = self.post({"events": []})
        self.assertEqual(
            response.json()["error"], "Stuur 1 tot 1000 gebeurtenissen per verzoek, niet 0."
        )

    def test_integration_user_has_no_other_access(self):
        env = self.env(user=self.integration)
        for model in ("lead.scoring.model", "lead.scoring.point", "lead.scoring.api.event"):
            with self.subTest(model=model):
                self.assertFalse(env[model].has_access("read"))
        self.assertFalse(env["crm.lead"].has_access("read"))

    def test_malformed_requests_are_refused_whole(self):
        cases = [
            (b'{"events": [', "not valid JSON"),
            ('{"events": ["caf\u00e9"]}'.encode("latin-1"), "UTF-8"),
            (b"[]", '"events" list'),
            (b'{"events": {"id": "w-1"}}', '"events" list'),
            (b'{"events": []}', "not 0"),
            (json.dumps({"events": [self.event(f"w-{i}") for i in range(MAX_EVENTS + 1)]}), "1001"),
        ]
        for body, message in cases:
            with self.subTest(body=body[:40]):
                response = self.post(body, raw=True)
                self.assertEqual(response.status_code, 400)
                self.assertIn(message, response.json()["error"])
        self.assertFalse(self.keys())
        self.assertFalse(self.lines_of(self.engagement, self.anna))

    def test_a_full_batch_is_accepted(self):
        events = [self.event(f"w-{i}") for i in range(MAX_EVENTS)]
        results = self.results(*events)
        self.assertEqual(len(results), MAX_EVENTS)
        self.assertEqual(results[0]["id"], "w-0")
        self.assertEqual(len(self.keys()), MAX_EVENTS)

    def test_openapi_document_matches_the_implementation(self):
        response = self.url_open("/lead_scoring/v1/openapi.json")
        self.assertEqual(response.status_code, 200)
        document = response.json()
        self.assertTrue(document["openapi"].startswith("3."))
        self.assertIn(EVENTS_URL, document["paths"])
        schemas = document["components"]["schemas"]
        self.assertEqual(schemas["EventBatch"]["properties"]["events"]["maxItems"], MAX_EVENTS)
        event = schemas["Event"]["properties"]
        for member, length in MAX_LENGTHS.items():
            self.assertEqual(event[member]["maxLength"], length, member)
        # The document names lead_scoring's own records; addons that score
        # other models (test_lead_scoring's tickets) add their id field.
        own_records = {"partner_id", "lead_id"}
        self.assertLessEqual(own_records, set(self.env["lead.scoring.api.event"]._record_fields()))
        self.assertEqual(
            set(event) - {"occurred_at", "create_contact"}, set(MAX_LENGTHS) | own_records
        )
        result = schemas["Result"]["properties"]
        self.assertEqual(tuple(result["status"]["enum"]), STATUSES)
        responses = document["paths"][EVENTS_URL]["post"]["responses"]
        self.assertEqual(set(responses), {"200", "400", "401", "403"})
        with file_open("lead_scoring/static/openapi.json") as static:
            self.assertEqual(json.load(static), document)


@tagged("post_install", "-at_install")
class TestEventsApi(EventsApiFixtures, LeadScoringCase):
    """The batch processing itself: configuration, keys, queries."""

    def test_automation_line_sets_up_the_action(self):
        action = self.webinar.sudo().action_id
        self.assertEqual(self.webinar.trigger_model_id.model, "res.partner")
        self.assertEqual(self.quote.trigger_model_id.model, "crm.lead")
        self.assertFalse(self.webinar.automation_id, "fired by the API, no Automation Rule")
        self.assertEqual(
            (action.state, action.score_api_code, action.score_points, action.model_id.model),
            ("lead_score", "seminar_attended", 15.0, "res.partner"),
        )
        self.webinar.with_user(self.manager).api_code = "seminar_joined"
        self.assertEqual(action.score_api_code, "seminar_joined")
        (result,) = self.receive(self.event("w-1", type="seminar_joined"))
        self.assertEqual(result["status"], "scored")
        self.webinar.trigger = "on_create"
        self.assertFalse(action.score_api_code, "only API lines answer events")

    def test_api_line_needs_a_valid_code(self):
        with self.assertRaisesRegex(ValidationError, "needs an API event type"):
            self.add_api_line(self.engagement, False, 5.0)
        with self.assertRaisesRegex(ValidationError, "without spaces"):
            self.add_api_line(self.engagement, "webinar attended", 5.0)

    def test_event_type_is_unique_per_company(self):
        with self.assertRaisesRegex(
            ValidationError,
            'API event type "seminar_attended" is already used by "API seminar_attended" '
            r"\(scoring model Betrokkenheid\): an event type must be unique within a company.",
        ):
            self.add_api_line(self.deals, "seminar_attended", 5.0)
        company_a = self.env.company
        company_b = self.env["res.company"].create({"name": "Company B"})
        model_a = self.create_model("A", company_id=company_a.id)
        model_b = self.create_model("B", company_id=company_b.id)
        self.add_api_line(model_a, "trial_started", 5.0)
        # Another company may use the same type (set up by its own manager).
        self.add_api_line(model_b, "trial_started", 7.0, user=self.env.user)
        with self.assertRaisesRegex(ValidationError, "unique within a company"):
            self.add_api_line(self.engagement, "trial_started", 1.0)  # all companies
        (result,) = self.receive(self.event("t-1", type="trial_started"))
        self.assertEqual(result["points"], 5.0, "the type of the user's company")

    def test_autovacuum_forgets_ids_after_90_days(self):
        start = fields.Datetime.now()
        with freeze_time(start - timedelta(days=KEY_RETENTION_DAYS + 1)):
            self.receive(self.event("old"))
        with freeze_time(start - timedelta(days=KEY_RETENTION_DAYS - 1)):
            self.receive(self.event("recent"))
        self.assertEqual(self.env["lead.scoring.api.event"]._gc_old_keys(), 1)
        self.assertEqual(self.keys().mapped("name"), ["recent"])
        (old, recent) = self.receive(self.event("old"), self.event("recent"))
        self.assertEqual((old["status"], recent["status"]), ("scored", "duplicate"))

    def test_a_batch_costs_a_constant_number_of_queries(self):
        partners = self.env["res.partner"].create(
            [{"name": f"Deelnemer {i}", "email": f"deelnemer{i}@example.nl"} for i in range(60)]
        )
        self.env.flush_all()

        def queries(batch, offset):
            events = [
                self.event(f"q-{offset}-{i}", email=partner.email)
                for i, partner in enumerate(batch)
            ]
            before = self.env.cr.sql_log_count
            results = self.receive(*events)
            self.assertEqual({r["status"] for r in results}, {"scored"})
            return self.env.cr.sql_log_count - before

        small = queries(partners[:5], 1)
        large = queries(partners[5:55], 2)
        self.assertLessEqual(large, small + 2, "a batch's queries do not grow with its size")
        self.assertLessEqual(large, 40)


@tagged("post_install", "-at_install")
class TestEventsApiConcurrency(BaseCase):
    """Two requests with the same event id at once: only one scores."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = api.Registry(get_db_name())

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            scoring_model = env["lead.scoring.model"].create(
                {"name": "Concurrent API", "target": "contact"}
            )
            env["lead.scoring.automation"].create(
                {
                    "model_id": scoring_model.id,
                    "name": "Race",
                    "trigger": "api_event",
                    "api_code": "race_event",
                    "points": 5,
                }
            )
            partner = env["res.partner"].create({"name": "Racer", "email": "racer@example.nl"})
            self.model_id, self.partner_id = scoring_model.id, partner.id
        self.addCleanup(self.remove_data)

    def remove_data(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["lead.scoring.api.event"].search([("name", "=", "race-1")]).unlink()
            env["lead.scoring.model"].browse(self.model_id).unlink()
            env["res.partner"].browse(self.partner_id).unlink()

    def receive(self, env):
        event = {"id": "race-1", "type": "race_event", "email": "racer@example.nl"}
        return env["lead.scoring.api.event"].sudo()._receive([event])[0]["status"]

    def in_thread(self, outcome):
        """Receive in a new cursor in a thread, retried on a serialization
        failure as Odoo retries requests (``odoo.service.model.retrying``)."""

        def target():
            with self.registry.cursor() as cr:
                cr.transaction = api.Transaction(self.registry)
                env = api.Environment(cr, SUPERUSER_ID, {})
                for _attempt in range(5):
                    try:
                        outcome.append(self.receive(env))
                        env.flush_all()
                        return
                    except OperationalError as error:
                        if error.pgcode not in PG_CONCURRENCY_ERRORS_TO_RETRY:
                            raise
                        outcome.append("retried")
                        cr.rollback()
                        env.invalidate_all()
                        time.sleep(0.1)

        thread = threading.Thread(target=target)
        thread.start()
        return thread

    @mute_logger("odoo.sql_db")
    def test_same_id_at_once_scores_once(self):
        outcome = []
        with self.registry.cursor() as cr1:
            first = self.receive(api.Environment(cr1, SUPERUSER_ID, {}))
            thread = self.in_thread(outcome)
            time.sleep(0.5)
            self.assertTrue(thread.is_alive(), "the second request waits on the first's key")
        thread.join(60)
        self.assertEqual(first, "scored")
        self.assertEqual(outcome[-1], "duplicate")
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            lines = env["lead.scoring.point"].search([("partner_id", "=", self.partner_id)])
            self.assertEqual(lines.mapped("points"), [5.0])
