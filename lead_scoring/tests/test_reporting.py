from datetime import datetime

from freezegun import freeze_time

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged

from .common import LeadScoringCase
from .test_rule_engine import NL_RULE


@tagged("post_install", "-at_install")
class TestReporting(LeadScoringCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.profiel = cls.create_model(
            rules=[NL_RULE],
            band_ids=[
                (0, 0, {"name": "Cold", "min_score": 0}),
                (0, 0, {"name": "Hot", "min_score": 15}),
            ],
        )

    def test_conversion_by_band_uses_the_score_at_closing(self):
        Lead = self.env["crm.lead"]
        with freeze_time("2026-03-01"):
            self.recompute()
            won = Lead.create({"name": "Won", "type": "opportunity", "partner_id": self.anna.id})
            lost_hot = Lead.create(
                {"name": "Lost hot", "type": "opportunity", "partner_id": self.anna.id}
            )
            lost_cold = Lead.create(
                {"name": "Lost cold", "type": "opportunity", "partner_id": self.bram.id}
            )
            still_open = Lead.create(
                {"name": "Open", "type": "opportunity", "partner_id": self.anna.id}
            )
        with freeze_time("2026-03-10"):
            won.action_set_won()
            lost_hot.action_set_lost()
            lost_cold.action_set_lost()
        with freeze_time("2026-04-01"):
            # Later changes do not rewrite history: Anna left the Netherlands.
            self.anna.country_id = self.be
            self.recompute()
        Report = self.env["lead.scoring.conversion.report"].with_user(self.salesman)
        rows = Report.search([("model_id", "=", self.profiel.id)])
        self.assertEqual(rows.lead_id, won | lost_hot | lost_cold, "closed opportunities only")
        self.assertNotIn(still_open, rows.lead_id)
        by_band = {
            band.name: (closed, won_count, rate)
            for band, closed, won_count, rate in Report._read_group(
                [("model_id", "=", self.profiel.id)],
                ["band_id"],
                ["closed_count:sum", "won_count:sum", "won_rate:avg"],
            )
        }
        self.assertEqual(by_band["Hot"], (2, 1, 50.0))
        self.assertEqual(by_band["Cold"], (1, 0, 0.0))
        self.assertEqual(rows.filtered(lambda r: r.lead_id == won).score_at_close, 20.0)

    def test_settings_write_the_cron_and_retention(self):
        settings = self.env["res.config.settings"].create(
            {
                "lead_scoring_interval_number": 15,
                "lead_scoring_interval_type": "minutes",
                "lead_scoring_retention_days": 90,
            }
        )
        settings.execute()
        cron = self.env.ref("lead_scoring.ir_cron_recompute_scores")
        self.assertEqual((cron.interval_number, cron.interval_type), (15, "minutes"))
        self.assertEqual(
            self.env["ir.config_parameter"].get_param("lead_scoring.ledger_retention_days"), "90"
        )
        fresh = self.env["res.config.settings"].create({})
        self.assertEqual(fresh.lead_scoring_interval_number, 15)

    def test_autovacuum_keeps_open_rule_lines(self):
        self.env["ir.config_parameter"].set_param("lead_scoring.ledger_retention_days", 30)
        engagement = self.create_model(
            "Betrokkenheid",
            rules=[
                (
                    "NL",
                    "[('country_id.code', '=', 'NL')]",
                    1.0,
                    {"expire_after": 1, "expire_unit": "days"},
                )
            ],
        )
        with freeze_time("2026-01-01"):
            self.recompute()  # Anna: open rule line, expiring 2 January
            self.bram.country_id = self.nl
            self.recompute()
            self.bram.country_id = self.be
            self.recompute()  # Bram: closed rule line
            expiring = self.Point.create(
                {
                    "model_id": engagement.id,
                    "partner_id": self.carl.id,
                    "points": 3,
                    "reason": "Opened",
                    "expire_date": datetime(2026, 1, 5),
                }
            )
        with freeze_time("2026-01-20"):
            self.assertEqual(self.Point._gc_old_lines(), 0, "nothing older than 30 days yet")
        with freeze_time("2026-03-01"):
            removed = self.Point._gc_old_lines()
        # Bram's closed lines (in both models) and Carl's expired manual line.
        self.assertEqual(removed, 3)
        self.assertFalse(expiring.exists())
        self.assertFalse(self.Point.search([("partner_id", "=", self.bram.id)]))
        self.assertTrue(self.lines_of(engagement, self.anna), "open rule line kept: no re-award")
        with freeze_time("2026-03-01"):
            self.recompute()
        self.assertEqual(len(self.lines_of(engagement, self.anna)), 1)

    def test_manual_points_wizard(self):
        wizard = (
            self.env["lead.scoring.point.manual"]
            .with_user(self.manager)
            .with_context(active_model="res.partner", active_ids=(self.anna | self.bram).ids)
            .create({"model_id": self.profiel.id, "points": 12, "reason": "Ontmoet op de beurs"})
        )
        self.assertEqual(wizard.target, "contact")
        wizard.action_add_points()
        self.assertEqual(self.anna.contact_score, 12.0)
        self.assertEqual(self.bram.contact_score, 12.0)
        line = self.lines_of(self.profiel, self.anna)
        self.assertEqual(
            (line.source, line.reason, line.create_uid),
            ("manual", "Ontmoet op de beurs", self.manager),
        )
        with self.assertRaises(AccessError):
            self.env["lead.scoring.point.manual"].with_user(self.salesman).with_context(
                active_model="res.partner", active_ids=self.anna.ids
            ).create({"model_id": self.profiel.id, "points": 1, "reason": "x"})
        with self.assertRaises(ValidationError):
            wizard.points = float("nan")
            wizard.action_add_points()

    def test_dutch_translation(self):
        self.env["res.lang"]._activate_lang("nl_NL")
        self.env["ir.module.module"]._load_module_terms(["lead_scoring"], ["nl_NL"], overwrite=True)
        field = self.env["ir.model.fields"]._get("lead.scoring.model", "decay_half_life_days")
        self.assertEqual(
            field.with_context(lang="nl_NL").field_description, "Halfwaardetijd (dagen)"
        )
        menu = self.env.ref("lead_scoring.lead_scoring_config_menu")
        self.assertEqual(menu.with_context(lang="nl_NL").name, "Leadscoring")
        rule = self.profiel.rule_ids.with_context(lang="nl_NL")
        self.assertEqual(rule._reason(), "Regel: Land is Nederland")
        with self.assertRaises(ValidationError) as caught:
            rule.domain = "[('no_such_field', '=', 1)]"
        self.assertIn("is geen geldig domein", str(caught.exception))
