from freezegun import freeze_time

from odoo.tests import tagged

from .common import LeadScoringCase

BANDS = [(0, 0, {"name": "Cold", "min_score": 0}), (0, 0, {"name": "Hot", "min_score": 10})]
# (has tag X, has tag Y, won, lost): X predicts winning, Y is noise.
CELLS = [(True, True, 8, 2), (True, False, 8, 2), (False, True, 2, 8), (False, False, 2, 8)]


@tagged("post_install", "-at_install")
class TestConversionReport(LeadScoringCase):
    """Conversion by band judges a model on the score just before closing."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Tag = cls.env["crm.tag"]
        cls.tag_x, cls.tag_y = Tag.create([{"name": "Predictive"}, {"name": "Noise"}])
        cls.predictive = cls.deal_model("Voorspellend", cls.tag_x)
        cls.noise = cls.deal_model("Nutteloos", cls.tag_y)
        cls.won_stage = cls.env.ref("crm.stage_lead4")

    @classmethod
    def deal_model(cls, name, tag):
        return cls.create_model(
            name,
            target="deal",
            rules=[(tag.name, f"[('tag_ids', 'in', [{tag.id}])]", 10.0)],
            band_ids=BANDS,
        )

    def close(self, leads_won, leads_lost):
        """Close the deals as a salesman does, then run at that very instant."""
        leads_won.with_user(self.salesman).action_set_won()
        leads_lost.with_user(self.salesman).action_set_lost()
        self.recompute()

    def by_band(self, scoring_model):
        """``{band: (closed, won, won rate)}`` as a salesman reads the report."""
        Report = self.env["lead.scoring.conversion.report"].with_user(self.salesman)
        return {
            band.name: (closed, won, rate)
            for band, closed, won, rate in Report._read_group(
                [("model_id", "=", scoring_model.id)],
                ["band_id"],
                ["closed_count:sum", "won_count:sum", "won_rate:avg"],
            )
        }

    def test_a_predictive_rule_shows_and_a_useless_one_does_not(self):
        Lead, no_tag = self.env["crm.lead"], self.env["crm.tag"]
        won, lost = Lead, Lead
        with freeze_time("2026-02-01 10:00:00"):
            for has_x, has_y, won_count, lost_count in CELLS:
                tags = (self.tag_x if has_x else no_tag) | (self.tag_y if has_y else no_tag)
                for index in range(won_count + lost_count):
                    lead = Lead.create(
                        {
                            "name": f"Deal {has_x} {has_y} {index}",
                            "type": "opportunity",
                            "tag_ids": [(6, 0, tags.ids)],
                            "user_id": self.salesman.id,
                        }
                    )
                    if index < won_count:
                        won |= lead
                    else:
                        lost |= lead
            self.recompute()
        with freeze_time("2026-03-01 10:00:00"):
            # The lost deals are archived and leave their rules in this very
            # run: their points still count in their score at closing.
            self.close(won, lost)
        self.assertEqual(
            self.by_band(self.predictive), {"Hot": (20, 16, 80.0), "Cold": (20, 4, 20.0)}
        )
        self.assertEqual(self.by_band(self.noise), {"Hot": (20, 10, 50.0), "Cold": (20, 10, 50.0)})

    def test_points_given_by_the_outcome_are_not_in_the_score_at_closing(self):
        action = self.env["ir.actions.server"].create(
            {
                "name": "Gewonnen",
                "model_id": self.env["ir.model"]._get_id("crm.lead"),
                "state": "lead_score",
                "score_model_id": self.predictive.id,
                "score_points": 50.0,
            }
        )
        self.env["base.automation"].create(
            {
                "name": "Gewonnen",
                "model_id": self.env["ir.model"]._get_id("crm.lead"),
                "trigger": "on_stage_set",
                "trg_field_ref": self.won_stage.id,
                "action_server_ids": [(4, action.id)],
            }
        )
        with freeze_time("2026-02-01 10:00:00"):
            lead = self.env["crm.lead"].create(
                {
                    "name": "Offerte",
                    "type": "opportunity",
                    "tag_ids": [(6, 0, self.tag_x.ids)],
                    "user_id": self.salesman.id,
                }
            )
            self.recompute()
        with freeze_time("2026-03-01 10:00:00"):
            lead.with_user(self.salesman).write({"stage_id": self.won_stage.id})
            self.recompute()
        self.assertEqual(lead.deal_score, 60.0, "the automation fired")
        row = self.env["lead.scoring.conversion.report"].search(
            [("model_id", "=", self.predictive.id), ("lead_id", "=", lead.id)]
        )
        self.assertEqual(row.score_at_close, 10.0)
        self.assertEqual(row.band_id.name, "Hot")

    def test_a_contact_model_lists_the_deals_of_its_segment(self):
        dutch = self.create_model(
            "Zakelijk NL", domain="[('country_id.code', '=', 'NL')]", band_ids=BANDS
        )
        Lead = self.env["crm.lead"]
        with freeze_time("2026-02-01 10:00:00"):
            anna_deal, bram_deal = Lead.create(
                [
                    {
                        "name": "Anna",
                        "partner_id": self.anna.id,
                        "user_id": self.salesman.id,
                        "type": "opportunity",
                    },
                    {
                        "name": "Bram",
                        "partner_id": self.bram.id,
                        "user_id": self.salesman.id,
                        "type": "opportunity",
                    },
                ]
            )
            self.recompute()
        with freeze_time("2026-03-01 10:00:00"):
            self.close(anna_deal, bram_deal)
        Report = self.env["lead.scoring.conversion.report"].with_user(self.salesman)
        self.assertEqual(Report.search([("model_id", "=", dutch.id)]).lead_id, anna_deal)
        self.assertEqual(
            Report.search([("model_id", "=", self.predictive.id)]).lead_id,
            anna_deal | bram_deal,
            "a model without a segment lists every deal",
        )
        dutch.with_user(self.manager).domain = "[('country_id.code', '=', 'BE')]"
        self.assertEqual(Report.search([("model_id", "=", dutch.id)]).lead_id, bram_deal)

    def test_the_menu_opens_one_model(self):
        menu = self.env.ref("lead_scoring.lead_scoring_conversion_report_menu")
        action = menu.action.with_user(self.salesman).run()
        self.assertEqual(action["res_model"], "lead.scoring.conversion.report")
        first_deal_model = self.ScoringModel.search([("target", "=", "deal")], limit=1)
        self.assertEqual(action["context"], {"search_default_model_id": first_deal_model.id})
        graph = self.env.ref("lead_scoring.lead_scoring_conversion_report_view_graph")
        self.assertIn('stacked="0"', graph.arch_db, "won rates are not stacked")
