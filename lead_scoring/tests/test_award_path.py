from datetime import datetime, timedelta
from unittest.mock import patch

from dateutil.relativedelta import relativedelta
from freezegun import freeze_time

from odoo import fields
from odoo.tests import BaseCase, tagged

from ..award import CAP, COMPANY, COOLDOWN, EXPIRED, SEGMENT, Award, History, Policy, judge
from ..models import ir_actions_server
from .common import LeadScoringCase
from .test_events_api import EventsApiFixtures

NOW = datetime(2026, 3, 10, 12, 0)


@tagged("post_install", "-at_install")
class TestAwardMath(BaseCase):
    """The in-batch arithmetic of the award path, without a database."""

    def test_cooldown_is_judged_around_the_award_date(self):
        policy = Policy(points=5, cooldown_hours=24)
        late = Award(1, NOW - timedelta(days=3), "late")
        near = Award(2, NOW - timedelta(days=3), "near")
        histories = {
            1: History([NOW]),  # today only: three days away
            2: History([NOW - timedelta(days=3, hours=-2)]),  # two hours after it
        }
        self.assertEqual(judge([late, near], histories, policy, NOW), [late])
        self.assertEqual((late.points, near.refusal), (5, COOLDOWN))
        self.assertEqual(histories[1].dates, [NOW, late.date], "the batch counts on")

    def test_a_batch_is_judged_oldest_first(self):
        policy = Policy(points=5, cooldown_hours=24)
        newer = Award(1, NOW - timedelta(hours=1), "newer")
        older = Award(1, NOW - timedelta(hours=5), "older")
        other = Award(2, NOW - timedelta(hours=1), "other record")
        self.assertEqual(judge([newer, older, other], {}, policy, NOW), [older, other])
        self.assertEqual(newer.refusal, COOLDOWN)
        # A cooldown of exactly the gap lets both through.
        apart = [Award(1, NOW - timedelta(hours=24), "a"), Award(1, NOW, "b")]
        self.assertEqual(len(judge(apart, {}, policy, NOW)), 2)

    def test_cap_counts_the_ledger_and_the_batch(self):
        policy = Policy(points=10, cap=25)
        awards = [Award(1, NOW - timedelta(minutes=m), str(m)) for m in (3, 2, 1)]
        accepted = judge(awards, {1: History([], 10.0)}, policy, NOW)
        self.assertEqual([a.points for a in accepted], [10.0, 5.0])
        self.assertEqual(awards[2].refusal, CAP)
        negative = Award(1, NOW, "minus")
        judge([negative], {1: History([], 99.0)}, Policy(points=-3, cap=25), NOW)
        self.assertEqual(negative.points, -3, "the cap limits gains only")

    def test_an_expired_award_adds_nothing(self):
        policy = Policy(points=5, expire_after=2, expire_unit="months")
        old = Award(1, datetime(2026, 1, 10, 12, 0), "exactly two months ago")
        fresh = Award(1, datetime(2026, 1, 10, 12, 1), "a minute later")
        self.assertEqual(judge([old, fresh], {}, policy, NOW), [fresh])
        self.assertEqual((old.refusal, old.expire_date), (EXPIRED, NOW))
        self.assertEqual(fresh.expire_date, datetime(2026, 3, 10, 12, 1))

    def test_refused_by_a_gate_stays_refused(self):
        gated = Award(1, NOW, "outside", refusal=SEGMENT)
        self.assertEqual(judge([gated], {}, Policy(points=5), NOW), [])
        self.assertEqual((gated.refusal, gated.points), (SEGMENT, 0.0))


@tagged("post_install", "-at_install")
class TestAwardPath(EventsApiFixtures, LeadScoringCase):
    """Every source through one path: the events API as its API user, the
    automations as the salesman whose work triggers them."""

    def statuses(self, *events):
        return [(r["status"], r["points"]) for r in self.receive(*events)]

    def at(self, date):
        return {"occurred_at": date.isoformat()}

    @freeze_time(NOW)
    def test_late_event_is_judged_against_the_lines_of_its_date(self):
        self.webinar.cooldown_hours = 24
        three_days_ago = NOW - timedelta(days=3)
        self.assertEqual(self.statuses(self.event("today")), [("scored", 15.0)])
        # Posted late: only today's line exists, three days away.
        self.assertEqual(
            self.statuses(self.event("late", **self.at(three_days_ago))), [("scored", 15.0)]
        )
        (near,) = self.receive(self.event("near", **self.at(three_days_ago + timedelta(hours=2))))
        self.assertEqual((near["status"], near["points"]), ("skipped", 0.0))
        self.assertIn("less than 24 hours before or after this event", near["message"])
        lines = self.lines_of(self.engagement, self.anna)
        self.assertEqual(sorted(lines.mapped("date")), [three_days_ago, NOW])
        self.assertEqual(self.score_of(self.engagement, self.anna), 30.0)

    @freeze_time(NOW)
    def test_two_events_of_a_batch_within_the_cooldown_score_the_first_by_date(self):
        self.webinar.cooldown_hours = 24
        newer, older = self.receive(
            self.event("newer", **self.at(NOW - timedelta(hours=1))),
            self.event("older", **self.at(NOW - timedelta(hours=5))),
        )
        self.assertEqual((newer["status"], older["status"]), ("skipped", "scored"))
        self.assertEqual(self.lines_of(self.engagement, self.anna).date, NOW - timedelta(hours=5))

    @freeze_time(NOW)
    def test_cap_counts_the_ledger_and_the_batch(self):
        self.webinar.max_points = 40
        self.assertEqual(self.statuses(self.event("first")), [("scored", 15.0)])
        results = self.statuses(*(self.event(f"batch-{i}") for i in range(3)))
        self.assertEqual(results, [("scored", 15.0), ("scored", 10.0), ("skipped", 0.0)])
        self.assertEqual(self.score_of(self.engagement, self.anna), 40.0)

    @freeze_time(NOW)
    def test_an_award_already_expired_adds_nothing(self):
        """Through the automations' runner as through the API: no line."""
        action = self.webinar.action_id
        awards = [
            Award(self.anna.id, NOW - timedelta(days=70), "Webinar"),
            Award(self.bram.id, NOW - timedelta(days=50), "Webinar"),
        ]
        self.assertEqual(action._lead_scoring_award(awards), {self.bram.id: 15.0})
        self.assertEqual([a.refusal for a in awards], [EXPIRED, None])
        self.assertFalse(self.lines_of(self.engagement, self.anna))
        self.assertEqual(
            self.lines_of(self.engagement, self.bram).expire_date,
            NOW - timedelta(days=50) + relativedelta(months=2),
        )

    def test_segment_and_company_gates_skip_and_log(self):
        """An Automation Rule fired by a salesman's new opportunity, and the API:
        records outside the segment or the company get no line, logged or answered."""
        line = (
            self.env["lead.scoring.automation"]
            .with_user(self.manager)
            .create(
                {
                    "model_id": self.engagement.id,
                    "name": "Opportunity created",
                    "trigger_model_id": self.env["ir.model"]._get_id("crm.lead"),
                    "trigger": "on_create",
                    "points": 5,
                }
            )
        )
        self.engagement.domain = "[('country_id.code', '=', 'NL')]"
        Lead = self.env["crm.lead"].with_user(self.salesman)
        with patch.object(ir_actions_server, "_logger") as logger:
            Lead.create({"name": "Anna", "partner_id": self.anna.id, "user_id": self.salesman.id})
            Lead.create({"name": "Bram", "partner_id": self.bram.id, "user_id": self.salesman.id})
        refused = [c.args[2] for c in logger.info.call_args_list if "refused" in c.args[0]]
        self.assertEqual(
            [[(target_id, why) for _key, target_id, why in r] for r in refused],
            [[(self.bram.id, SEGMENT)]],
        )
        self.assertEqual(self.lines_of(self.engagement, self.anna).points, 5.0)
        self.assertFalse(self.lines_of(self.engagement, self.bram))

        self.engagement.domain = "[]"
        self.engagement.company_id = self.company
        self.anna.company_id = self.env["res.company"].create({"name": "Elders BV"})
        (result,) = self.receive(self.event("w-1"))
        self.assertEqual(result["status"], "skipped")
        self.assertIn("another company than scoring model Betrokkenheid", result["message"])
        awards = [Award(self.anna.id, fields.Datetime.now(), "x")]
        self.assertEqual(line.action_id._lead_scoring_award(awards), {})
        self.assertEqual(awards[0].refusal, COMPANY)
        self.assertEqual(len(self.lines_of(self.engagement, self.anna)), 1)
