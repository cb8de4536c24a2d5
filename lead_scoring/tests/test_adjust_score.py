from datetime import datetime
from unittest.mock import patch

from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..models import ir_actions_server
from .common import LeadScoringCase


@tagged("post_install", "-at_install")
class TestAdjustScore(LeadScoringCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.engagement = cls.create_model("Betrokkenheid")
        cls.lead_model = cls.env["ir.model"]._get("crm.lead")

    @classmethod
    def adjust_action(cls, model="crm.lead", **values):
        return cls.env["ir.actions.server"].create(
            {
                "name": values.pop("name", "Lead aangemaakt"),
                "model_id": cls.env["ir.model"]._get_id(model),
                "state": "lead_score",
                "score_model_id": values.pop("score_model_id", cls.engagement.id),
                "score_points": values.pop("score_points", 5.0),
                **values,
            }
        )

    @classmethod
    def automation(cls, action, trigger, model="crm.lead", **values):
        return cls.env["base.automation"].create(
            {
                "name": action.name,
                "model_id": cls.env["ir.model"]._get_id(model),
                "trigger": trigger,
                "action_server_ids": [(4, action.id)],
                **values,
            }
        )

    def run_action(self, action, records):
        return action.with_context(active_model=records._name, active_ids=records.ids).run()

    def test_on_creation_scores_the_lead_customer(self):
        action = self.adjust_action(score_expire_after=2, score_expire_unit="months")
        self.automation(action, "on_create")
        with freeze_time("2026-01-31 12:00:00"):
            lead = self.env["crm.lead"].create({"name": "Offerte", "partner_id": self.anna.id})
        line = self.lines_of(self.engagement, self.anna)
        self.assertEqual(len(line), 1)
        self.assertEqual(line.points, 5.0)
        self.assertEqual(line.source, "action")
        self.assertEqual(line.action_id, action)
        self.assertEqual(line.reason, f"Lead aangemaakt: {lead.display_name}")
        self.assertEqual(line.expire_date, datetime(2026, 3, 31, 12, 0, 0))
        self.assertEqual(self.anna.contact_score, 5.0, "score updated in the same transaction")
        with freeze_time("2026-03-31 12:00:00"):
            self.recompute()
            self.assertEqual(self.anna.contact_score, 0.0)
            self.assertFalse(line.is_live)

    def test_on_save_with_trigger_field(self):
        # Odoo runs "on save" rules again for fields recomputed in the same
        # save; the action's cooldown is what keeps that from counting twice.
        action = self.adjust_action(name="Fase gewijzigd", score_points=3.0, score_cooldown_hours=1)
        stage_field = self.env["ir.model.fields"]._get("crm.lead", "stage_id")
        self.automation(action, "on_create_or_write", trigger_field_ids=[(6, 0, stage_field.ids)])
        with freeze_time("2026-04-01 10:00"):
            lead = self.env["crm.lead"].create(
                {"name": "Deal", "partner_id": self.bram.id, "type": "opportunity"}
            )
            self.assertEqual(self.bram.contact_score, 3.0)
        with freeze_time("2026-04-01 12:00"):
            lead.write({"description": "no stage change"})
            self.assertEqual(self.bram.contact_score, 3.0)
            stages = self.env["crm.stage"].search([], limit=2)
            lead.stage_id = stages[-1]
            self.assertEqual(self.bram.contact_score, 6.0)

    def test_message_received(self):
        action = self.adjust_action(name="E-mail beantwoord", score_points=10.0)
        self.automation(action, "on_message_received")
        lead = self.env["crm.lead"].create({"name": "Vraag", "partner_id": self.anna.id})
        self.assertEqual(self.anna.contact_score, 0.0)
        lead.message_post(
            body="Graag meer info",
            author_id=self.anna.id,
            message_type="email",
            subtype_xmlid="mail.mt_comment",
        )
        self.assertEqual(self.anna.contact_score, 10.0)

    def test_target_resolution_order_and_skips(self):
        action = self.adjust_action(model="res.partner", name="Direct")
        self.run_action(action, self.anna | self.bram)
        self.assertEqual((self.anna.contact_score, self.bram.contact_score), (5.0, 5.0))

        on_lead = self.adjust_action(name="Via lead")
        with_partner = self.env["crm.lead"].create({"name": "A", "partner_id": self.anna.id})
        by_email = self.env["crm.lead"].create(
            {"name": "B", "email_from": "Carl <CARL@example.com>"}
        )
        nobody = self.env["crm.lead"].create({"name": "C", "email_from": "unknown@nowhere.test"})
        with patch.object(ir_actions_server, "_logger") as logger:
            self.run_action(on_lead, with_partner | by_email | nobody)
        skip_log = logger.info.call_args_list[0].args
        self.assertIn("skipped", skip_log[0])
        self.assertEqual(skip_log[2], nobody, "the record without target is logged")
        self.assertEqual(self.anna.contact_score, 10.0)
        self.assertEqual(self.carl.contact_score, 5.0, "found by normalized email")
        self.assertFalse(self.Point.search([("reason", "ilike", "Via lead: C")]))

        # A document reference (model/res_id), as mailing traces and messages carry.
        on_message = self.adjust_action(model="mail.message", name="Bericht")
        message = self.env["mail.message"].create(
            {
                "model": "res.partner",
                "res_id": self.bram.id,
                "body": "hi",
                "message_type": "comment",
            }
        )
        self.run_action(on_message, message)
        self.assertEqual(self.bram.contact_score, 10.0)

    def test_deal_model_scores_the_deal(self):
        deals = self.create_model("Deal activity", target="deal")
        action = self.adjust_action(score_model_id=deals.id, score_points=7.0)
        lead = self.env["crm.lead"].create({"name": "Deal", "partner_id": self.anna.id})
        self.run_action(action, lead)
        self.assertEqual(lead.deal_score, 7.0)
        self.assertEqual(self.anna.contact_score, 0.0)

    def test_target_path(self):
        company = self.env["res.partner"].create({"name": "Acme BV", "is_company": True})
        self.anna.parent_id = company
        action = self.adjust_action(score_target_field="partner_id.commercial_partner_id")
        lead = self.env["crm.lead"].create({"name": "Deal", "partner_id": self.anna.id})
        self.run_action(action, lead)
        self.assertEqual(company.contact_score, 5.0)
        with self.assertRaises(ValidationError):
            self.adjust_action(score_target_field="stage_id")
        with self.assertRaises(ValidationError):
            self.adjust_action(score_target_field="no_such_field")

    def test_cooldown(self):
        action = self.adjust_action(model="res.partner", score_cooldown_hours=24)
        with freeze_time("2026-02-01 10:00"):
            self.run_action(action, self.anna)
        with freeze_time("2026-02-02 09:59"):
            self.run_action(action, self.anna)
            self.assertEqual(self.anna.contact_score, 5.0)
        with freeze_time("2026-02-02 10:01"):
            self.run_action(action, self.anna)
            self.assertEqual(self.anna.contact_score, 10.0)
        self.assertEqual(len(self.lines_of(self.engagement, self.anna)), 2)

    def test_cap(self):
        action = self.adjust_action(model="res.partner", score_points=10.0, score_max_points=25.0)
        for _ in range(4):
            self.run_action(action, self.anna)
        self.assertEqual(self.anna.contact_score, 25.0)
        self.assertEqual(
            self.lines_of(self.engagement, self.anna).mapped("points"), [10.0, 10.0, 5.0]
        )
        # One run over the same record twice awards once.
        self.run_action(action, self.bram | self.bram)
        self.assertEqual(self.bram.contact_score, 10.0)

    def test_decay_halves_after_one_half_life(self):
        self.engagement.decay_half_life_days = 30
        action = self.adjust_action(model="res.partner", score_points=100.0)
        with freeze_time("2026-01-01"):
            self.run_action(action, self.anna)
            self.assertEqual(self.anna.contact_score, 100.0)
        with freeze_time("2026-01-31"):
            self.recompute()
            self.assertEqual(self.anna.contact_score, 50.0)
        with freeze_time("2026-03-02"):
            self.recompute()
            self.assertEqual(self.anna.contact_score, 25.0)

    def test_points_dated_in_the_past_count_as_they_would_now(self):
        """Points earned earlier (an event's occurred_at, a page view credited
        later) are dated then: expired ones count nothing at once, decayed
        ones count their decayed value, in the same statement that adds them."""
        self.engagement.decay_half_life_days = 30
        with freeze_time("2026-03-02"):
            self.Point._add_points(
                self.engagement,
                [
                    (self.anna.id, 100.0, "Webinar", datetime(2026, 1, 31)),
                    (self.bram.id, 100.0, "Webinar", datetime(2025, 12, 1)),
                ],
                "api",
                expire_after=2,
                expire_unit="months",
            )
            self.assertEqual(self.anna.contact_score, 50.0, "one half-life ago")
            self.assertEqual(self.bram.contact_score, 0.0, "expired on 1 February")
            line = self.lines_of(self.engagement, self.anna)
            self.assertEqual(line.date, datetime(2026, 1, 31))
            self.assertEqual(line.expire_date, datetime(2026, 3, 31))
            self.assertFalse(self.lines_of(self.engagement, self.bram).is_live)
            self.recompute()
            self.assertEqual(self.anna.contact_score, 50.0, "the recompute agrees")
            self.assertEqual(self.bram.contact_score, 0.0)

    def test_decay_and_expiry_combine(self):
        self.engagement.decay_half_life_days = 10
        action = self.adjust_action(
            model="res.partner", score_points=80.0, score_expire_after=3, score_expire_unit="weeks"
        )
        with freeze_time("2026-01-01"):
            self.run_action(action, self.anna)
        with freeze_time("2026-01-11"):
            self.recompute()
            self.assertEqual(self.anna.contact_score, 40.0)
        with freeze_time("2026-01-22"):
            self.recompute()
            self.assertEqual(self.anna.contact_score, 0.0)

    def test_archived_scoring_model_does_nothing(self):
        action = self.adjust_action(model="res.partner")
        self.engagement.active = False
        self.run_action(action, self.anna)
        self.assertFalse(self.lines_of(self.engagement, self.anna))

    def test_scoring_model_cannot_be_deleted_under_an_action(self):
        self.adjust_action(model="res.partner")
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"), self.cr.savepoint():
            self.engagement.unlink()

    def test_outside_company_is_skipped(self):
        company_b = self.env["res.company"].create({"name": "B"})
        self.engagement.company_id = company_b
        self.anna.company_id = self.company
        action = self.adjust_action(model="res.partner")
        self.run_action(action, self.anna | self.bram)
        self.assertFalse(self.lines_of(self.engagement, self.anna))
        self.assertEqual(self.score_of(self.engagement, self.bram), 5.0)

    def test_salesman_triggers_automation_but_cannot_edit_actions(self):
        action = self.adjust_action()
        self.automation(action, "on_create")
        lead = (
            self.env["crm.lead"]
            .with_user(self.salesman)
            .create({"name": "Via rep", "partner_id": self.anna.id, "user_id": self.salesman.id})
        )
        self.assertTrue(lead)
        self.assertEqual(self.anna.contact_score, 5.0)
        with self.assertRaises(AccessError):
            action.with_user(self.salesman).write({"score_points": 1000})
        with self.assertRaises(AccessError):
            self.env["ir.actions.server"].with_user(self.salesman).create(
                {
                    "name": "x",
                    "model_id": self.lead_model.id,
                    "state": "lead_score",
                    "score_model_id": self.engagement.id,
                }
            )

    def test_native_automation_on_contact_score(self):
        """Admins can react to score changes with plain Automation Rules."""
        score_field = self.env["ir.model.fields"]._get("res.partner", "contact_score")
        mark_hot = self.env["ir.actions.server"].create(
            {
                "name": "Mark hot",
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "state": "object_write",
                "update_path": "ref",
                "value": "HOT",
            }
        )
        self.automation(
            mark_hot,
            "on_create_or_write",
            model="res.partner",
            trigger_field_ids=[(6, 0, score_field.ids)],
            filter_domain="[('contact_score', '>=', 10)]",
        )
        action = self.adjust_action(model="res.partner")
        self.run_action(action, self.anna)
        self.assertFalse(self.anna.ref)
        self.run_action(action, self.anna)
        self.assertEqual(self.anna.contact_score, 10.0)
        self.assertEqual(self.anna.ref, "HOT")

    def test_runner_query_budget(self):
        """The runner's hot path: a few queries per triggering record, whatever
        the batch. Each run adds the line and updates the score in one
        statement; writing the contact score is Odoo's own partner write."""
        action = self.adjust_action(model="res.partner")
        partners = self.env["res.partner"].create([{"name": f"P{i}"} for i in range(20)])
        self.run_action(action, self.anna)  # warm the caches, as a running worker has them
        self.env.flush_all()
        with self.assertQueryCount(4):
            self.run_action(action, self.bram)
            self.env.flush_all()
        # As an Automation Rule runs it: one run per record, in one transaction.
        with self.assertQueryCount(11):
            for partner in partners[:10]:
                self.run_action(action, partner)
            self.env.flush_all()
        with self.assertQueryCount(2):
            self.run_action(action, partners[10:])
            self.env.flush_all()
        self.assertEqual(set(partners.mapped("contact_score")), {5.0})
        self.assertEqual(len(self.Point.search([("action_id", "=", action.id)])), 22)

    def test_runner_query_budget_with_cooldown(self):
        action = self.adjust_action(model="res.partner", score_cooldown_hours=1)
        self.run_action(action, self.anna)
        self.env.flush_all()
        with self.assertQueryCount(5):
            self.run_action(action, self.bram)
            self.env.flush_all()
        with self.assertQueryCount(1):
            self.run_action(action, self.bram)  # in cooldown: one look, nothing written
            self.env.flush_all()
        self.assertEqual(self.bram.contact_score, 5.0)
