from odoo.exceptions import AccessError, ValidationError
from odoo.tests import TransactionCase, new_test_user, tagged

from ..url_patterns import page_path, path_matches


@tagged("post_install", "-at_install")
class TestAutomationLines(TransactionCase):
    """Managers set up the website triggers on the Automations tab."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env, login="lsw_line_manager", groups="sales_team.group_sale_manager"
        )
        cls.salesman = new_test_user(
            cls.env, login="lsw_line_salesman", groups="sales_team.group_sale_salesman"
        )
        cls.env["lead.scoring.model"].search([]).active = False  # demo models
        cls.Line = cls.env(user=cls.manager)["lead.scoring.automation"]
        cls.engagement = cls.env(user=cls.manager)["lead.scoring.model"].create(
            {"name": "Betrokkenheid", "target": "contact"}
        )

    def line_values(self, **values):
        return {
            "model_id": self.engagement.id,
            "name": "Productpagina",
            "trigger": "website_page_visit",
            "url_pattern": "/shop/%",
            "points": 1,
            **values,
        }

    def test_trigger_model_and_action_without_automation_rule(self):
        page = self.Line.create(self.line_values())
        form = self.Line.create(self.line_values(trigger="website_lead_form", url_pattern=False))
        self.assertEqual(page.trigger_model_id.model, "website.track")
        self.assertEqual(form.trigger_model_id.model, "crm.lead")
        for line in page | form:
            self.assertFalse(line.sudo().automation_id, "fired by the website, not by a rule")
            self.assertEqual(line.sudo().action_id.state, "lead_score")
            self.assertEqual(line.sudo().action_id.model_id, line.trigger_model_id)
        # Another trigger gives the line an Automation Rule again.
        form.write({"trigger": "on_create", "trigger_model_id": page.trigger_model_id.id})
        self.assertTrue(form.sudo().automation_id)

    def test_cached_lines_follow_changes(self):
        Line = self.env["lead.scoring.automation"]
        self.assertFalse(Line._website_page_lines("/shop/stoel"))
        line = self.Line.create(self.line_values())
        self.assertEqual(Line._website_page_lines("https://example.com/shop/stoel"), line)
        self.assertFalse(Line._website_page_lines("https://example.com/blog/stoel"))
        line.url_pattern = "/blog/%"
        self.assertEqual(Line._website_page_lines("https://example.com/blog/stoel"), line)
        self.engagement.active = False
        self.assertFalse(Line._website_page_lines())
        self.engagement.active = True
        self.assertEqual(Line._website_page_lines(), line)
        line.unlink()
        self.assertFalse(Line._website_page_lines())

    def test_validation(self):
        with self.assertRaisesRegex(
            ValidationError, r'must start with "/", for instance /shop/%\.'
        ):
            self.Line.create(self.line_values(url_pattern="shop/%"))
        with self.assertRaisesRegex(ValidationError, "must start with"):
            self.Line.create(self.line_values(url_pattern=False))
        with self.assertRaisesRegex(ValidationError, "within how many days"):
            self.Line.create(self.line_values(min_visits=4))
        with self.assertRaisesRegex(ValidationError, "cannot be negative"):
            self.Line.create(self.line_values(min_visits=-1))
        self.Line.create(self.line_values(min_visits=4, within_days=30))

    def test_reactivation_restarts_the_counting(self):
        line = self.Line.create(self.line_values())
        line.views_since = "2020-01-01 00:00:00"
        line.active = False
        line.active = True
        self.assertGreater(line.views_since.year, 2020)

    def test_salesman_reads_but_cannot_set_up(self):
        line = self.Line.create(self.line_values())
        self.assertEqual(line.with_user(self.salesman).url_pattern, "/shop/%")
        with self.assertRaises(AccessError):
            line.with_user(self.salesman).url_pattern = "/blog/%"
        with self.assertRaises(AccessError):
            self.env(user=self.salesman)["lead.scoring.automation"].create(self.line_values())

    def test_page_paths_and_patterns(self):
        codes = {"nl", "fr_BE"}
        self.assertEqual(
            page_path("https://shop.example/fr_BE/shop/stoel?x=1#top", codes), "/shop/stoel"
        )
        self.assertEqual(page_path("https://shop.example/nl", codes), "/")
        self.assertEqual(page_path("https://shop.example/nlx/a", codes), "/nlx/a")
        self.assertEqual(page_path("https://shop.example", codes), "/")
        self.assertTrue(path_matches("/shop/%", "/shop/stoel"))
        self.assertFalse(path_matches("/shop/%", "/shop"))
        self.assertFalse(path_matches("/shop/%", "/blog/shop/stoel"))
        self.assertTrue(path_matches("/shop/stoel_", "/shop/stoel2"))
        self.assertFalse(path_matches("/shop/stoel\\_", "/shop/stoel2"))
        self.assertTrue(path_matches("/shop/stoel\\_", "/shop/stoel_"))
        self.assertTrue(path_matches("/a.b", "/a.b"))
        self.assertFalse(path_matches("/a.b", "/axb"), "a dot is a dot")
