from lxml import etree

from odoo.tests import Form, new_test_user, tagged
from odoo.tools.safe_eval import safe_eval

from .common import LeadScoringCase


@tagged("post_install", "-at_install")
class TestScreenFigures(LeadScoringCase):
    """The figures the screens show are the ones the user expects (issue 22)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = new_test_user(
            cls.env,
            login="ls_settings_admin",
            groups="base.group_system,sales_team.group_sale_manager",
            name="Settings Admin",
        )

    def test_settings_show_the_cron_schedule(self):
        """The settings form gets the cron's interval through onchange, as the client does."""
        cron = self.env.ref("lead_scoring.ir_cron_recompute_scores")
        cron.write({"interval_number": 1, "interval_type": "hours"})
        settings = Form(self.env["res.config.settings"].with_user(self.admin))
        self.assertEqual(settings.lead_scoring_interval_number, 1)
        self.assertEqual(settings.lead_scoring_interval_type, "hours")
        # And the raw RPC the web client sends (the settings form holds company_id).
        result = (
            self.env["res.config.settings"]
            .with_user(self.admin)
            .onchange(
                {},
                [],
                {
                    "company_id": {},
                    "lead_scoring_interval_number": {},
                    "lead_scoring_interval_type": {},
                },
            )
        )
        self.assertEqual(result["value"]["lead_scoring_interval_number"], 1)
        self.assertEqual(result["value"]["lead_scoring_interval_type"], "hours")
        # Saving a new schedule reaches the cron.
        settings.lead_scoring_interval_number = 4
        settings.save().execute()
        self.assertEqual(cron.interval_number, 4)

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def arch(self, model, view_type, user=None):
        """The arch a user's client gets for the default view, parsed."""
        views = (
            self.env[model]
            .with_user(user or self.salesman)
            .get_views([(False, view_type)])["views"][view_type]
        )
        return etree.fromstring(views["arch"])

    def field_node(self, arch, name):
        nodes = arch.xpath(f"//field[@name='{name}']")
        self.assertTrue(nodes, f"{name} is not in the view")
        return nodes[0]

    # ------------------------------------------------------------------
    # Item 2: pipeline filters
    # ------------------------------------------------------------------

    def test_pipeline_filters_have_their_own_group(self):
        """Filters of one group OR together in the client; separators end a group."""
        search = self.arch("crm.lead", "search")
        groups, current = [], []
        for node in search:
            if node.tag in {"separator", "group"}:
                groups.append(current)
                current = []
            elif node.tag == "filter":
                current.append(node.get("name"))
        groups.append(current)
        group = next(g for g in groups if "filter_likely_to_win" in g)
        self.assertEqual(set(group), {"filter_deal_scored", "filter_likely_to_win"})
        self.assertIn("assigned_to_me", {name for g in groups for name in g})

    # ------------------------------------------------------------------
    # Item 3: the roll-up's contacts
    # ------------------------------------------------------------------

    def test_rollup_button_opens_the_company_contacts(self):
        Partner = self.env["res.partner"]
        acme = Partner.create({"name": "Acme BV", "is_company": True})
        self.anna.parent_id = acme
        self.bram.parent_id = acme
        gone = Partner.create({"name": "Gone", "parent_id": acme.id, "active": False})
        accounts = self.create_model("Accounts", rollup="sum")
        self.Point._add_points(accounts, [(self.anna.id, 10, "Engaged")], "action")
        self.recompute()
        company_score = self.Score.with_user(self.salesman).search(
            [("model_id", "=", accounts.id), ("partner_id", "=", acme.id)]
        )
        self.assertEqual(company_score.rollup_score, 10.0)
        action = company_score.action_open_rollup_contacts()
        self.assertEqual(action["res_model"], "res.partner")
        self.assertEqual(action["views"][0][1], "list")
        self.assertEqual(action["views"][1][1], "form")
        contacts = (
            Partner.with_user(self.salesman)
            .with_context(**action["context"])
            .search(action["domain"])
        )
        # Every active contact counts (Bram as 0), the archived one does not.
        self.assertEqual(contacts, self.anna | self.bram)
        self.assertNotIn(gone, contacts)
        # Each with its score in the roll-up's model: they add up to the roll-up.
        self.assertEqual(contacts.mapped("lead_scoring_model_score"), [10.0, 0.0])
        self.assertEqual(
            sum(contacts.mapped("lead_scoring_model_score")), company_score.rollup_score
        )

    # ------------------------------------------------------------------
    # Item 4: a score row's form
    # ------------------------------------------------------------------

    def test_score_row_form_says_why(self):
        profiel = self.create_model(
            "Profiel", rules=[("Land is Nederland", "[('country_id.code', '=', 'NL')]", 20.0)]
        )
        self.recompute()
        score = self.Score.with_user(self.salesman).search(
            [("model_id", "=", profiel.id), ("partner_id", "=", self.anna.id)]
        )
        form = self.arch("lead.scoring.score", "form")
        self.assertEqual(form.get("edit"), "false")
        self.assertEqual(
            self.field_node(form, "win_probability").get("invisible"), "not date_lab_applied"
        )
        self.assertFalse(form.xpath("//field[@name='band_color'][not(@invisible)]"))
        self.assertFalse(score.date_lab_applied, "no lab applied: no win probability shown")
        self.assertEqual(score.point_ids, self.lines_of(profiel, self.anna, is_live=True))
        self.assertEqual(score.point_ids.reason, "Rule: Land is Nederland")

    # ------------------------------------------------------------------
    # Item 5: the Score History button
    # ------------------------------------------------------------------

    def test_score_history_button_counts_what_it_opens(self):
        profiel = self.create_model(
            "Profiel", rules=[("Land is Nederland", "[('country_id.code', '=', 'NL')]", 20.0)]
        )
        engagement = self.create_model("Betrokkenheid")
        self.recompute()
        self.Point._add_points(engagement, [(self.anna.id, 5, "Opened")], "action")
        self.Point._add_points(engagement, [(self.anna.id, 10, "Clicked")], "action")
        anna = self.anna.with_user(self.salesman)
        action = anna.action_open_lead_scoring_points()
        self.assertEqual(action["context"].get("search_default_filter_live"), 1)
        opened = self.Point.with_user(self.salesman).search(
            [*action["domain"], ("is_live", "=", True)]
        )
        self.assertEqual(len(opened), 3)
        self.assertEqual(anna.lead_scoring_live_point_count, len(opened))
        # The primary score (20) is not what the list adds up to (35).
        self.assertEqual(anna.contact_score, 20.0)
        self.assertEqual(sum(opened.mapped("points")), 35.0)
        button = self.arch("res.partner", "form").xpath(
            "//button[@name='action_open_lead_scoring_points']"
        )[0]
        self.assertEqual(
            [node.get("name") for node in button.iter("field")],
            ["lead_scoring_live_point_count"],
        )
        self.assertTrue(profiel)

    def test_deal_button_counts_what_it_opens(self):
        first, second = (
            self.create_model(
                name, target="deal", rules=[(name, "[('priority', '=', '3')]", points)]
            )
            for name, points in (("Dealkwaliteit", 20.0), ("Urgentie", 15.0))
        )
        lead = self.env["crm.lead"].create(
            {"name": "Offerte", "type": "opportunity", "priority": "3", "user_id": self.salesman.id}
        )
        self.recompute()
        lead = lead.with_user(self.salesman)
        action = lead.action_open_lead_scoring_points()
        opened = self.env["lead.scoring.point"].search([*action["domain"], ("is_live", "=", True)])
        self.assertEqual(len(opened), 2)
        self.assertEqual(lead.lead_scoring_live_point_count, 2)
        self.assertEqual(lead.deal_score, 20.0, "one model's score, not what the list holds")
        button = self.arch("crm.lead", "form").xpath(
            "//button[@name='action_open_lead_scoring_points']"
        )[0]
        self.assertEqual(
            [node.get("name") for node in button.iter("field")],
            ["lead_scoring_live_point_count"],
        )
        self.assertTrue(first | second)

    # ------------------------------------------------------------------
    # Item 6: the band alone in the pipeline
    # ------------------------------------------------------------------

    def test_pipeline_band_column_shows_the_band(self):
        deals = self.create_model(
            "Dealkwaliteit",
            target="deal",
            rules=[("Grote deal", "[('expected_revenue', '>=', 10000)]", 15.0)],
            band_ids=[(0, 0, {"name": "Hot", "min_score": 10})],
        )
        lead = self.env["crm.lead"].create(
            {
                "name": "Zonnepanelen",
                "type": "opportunity",
                "expected_revenue": 20000,
                "user_id": self.salesman.id,
            }
        )
        self.recompute()
        node = self.field_node(self.arch("crm.lead", "list"), "deal_band_id")
        context = safe_eval(node.get("context"))
        # What the list asks for the column, as the web client does.
        [values] = lead.with_user(self.salesman).web_read(
            {"deal_band_id": {"fields": {"display_name": {}}, "context": context}}
        )
        self.assertEqual(values["deal_band_id"]["display_name"], "Hot")
        # Elsewhere the band keeps its model's name.
        self.assertEqual(deals.band_ids.display_name, "Dealkwaliteit / Hot")

    # ------------------------------------------------------------------
    # Item 7: the lead grade
    # ------------------------------------------------------------------

    def test_lead_grade_on_forms_coloured_by_grade(self):
        for model in ("res.partner", "crm.lead"):
            form = self.arch(model, "form")
            node = self.field_node(form, "lead_grade")
            self.assertEqual(node.get("widget"), "badge")
            kanban = self.arch(model, "kanban")
            badge = self.field_node(kanban, "lead_grade")
            self.assertIn("'A'", badge.get("decoration-success"))
            self.assertIn("'B'", badge.get("decoration-warning"))
            self.assertIn("'A', 'B'", badge.get("decoration-danger"))

    # ------------------------------------------------------------------
    # Items 9-11: what the counts count, the model form's lists
    # ------------------------------------------------------------------

    def test_counts_say_what_they_count(self):
        model_fields = self.ScoringModel.fields_get(["scored_count", "segment_count"])
        self.assertIn("archived", model_fields["scored_count"]["help"])
        self.assertIn("segment", model_fields["segment_count"]["help"])
        rule_field = self.env["lead.scoring.rule"].fields_get(["match_count"])["match_count"]
        self.assertIn("segment", rule_field["string"].lower())
        self.assertIn("company", rule_field["help"])

    def test_model_form_lists(self):
        form = self.arch("lead.scoring.model", "form", user=self.manager)
        thresholds = form.xpath("//field[@name='threshold_ids']/list")[0]
        self.assertTrue(thresholds.xpath("field[@name='direction']"))
        labels = {
            name: form.xpath(f"//field[@name='{name}']/list/control/create/@string")
            for name in ("rule_ids", "automation_ids", "threshold_ids", "band_ids")
        }
        self.assertEqual(
            labels,
            {
                "rule_ids": ["Add a rule"],
                "automation_ids": ["Add an automation"],
                "threshold_ids": ["Add a threshold"],
                "band_ids": ["Add a band"],
            },
        )
