import math

from freezegun import freeze_time
from lxml import etree

from odoo.tests import Form, tagged
from odoo.tools import SQL

from .. import lab_math
from .common import LeadScoringCase

NL = "[('country_id.code', '=', 'NL')]"
BE = "[('country_id.code', '=', 'BE')]"
COMPANY = "[('is_company', '=', True)]"
TOP_10 = [("lead_score_ids", "any", [("percentile", ">=", 90)])]
RISING = [("lead_score_ids", "any", [("trend_direction", "=", "up")])]


@tagged("post_install", "-at_install")
class TestInsight(LeadScoringCase):
    """Trend, percentile and next steps of a score row, as a sales rep reads them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.engagement = cls.create_model(
            "Betrokkenheid",
            rules=[
                ("NL", "[('country_id.code', '=', 'NL')]", 10.0),
                ("Bedrijf", "[('is_company', '=', True)]", 25.0),
                ("Geen e-mail", "[('email', '=', False)]", -5.0),
            ],
            threshold_ids=[(0, 0, {"name": "Klaar voor sales", "score": 30.0})],
        )
        cls.line = cls.env["lead.scoring.automation"].create(
            {
                "model_id": cls.engagement.id,
                "name": "Offerte aangevraagd",
                "trigger_model_id": cls.env["ir.model"]._get_id("crm.lead"),
                "trigger": "on_create",
                "points": 8,
                "cooldown_hours": 24,
            }
        )

    def row(self, partner, user=None):
        return self.Score.with_user(user or self.salesman).search(
            [("model_id", "=", self.engagement.id), ("partner_id", "=", partner.id)]
        )

    def test_trend_compares_with_the_score_a_period_ago(self):
        with freeze_time("2026-01-01 09:00:00"):
            self.recompute()  # Anna 10 (NL)
        with freeze_time("2026-01-20 09:00:00"):
            self.env["crm.lead"].create({"name": "Offerte", "partner_id": self.anna.id})
            self.bram.country_id = self.nl
            self.recompute()  # Anna 18, Bram 10
        with freeze_time("2026-02-05 09:00:00"):
            anna, bram = self.row(self.anna), self.row(self.bram)
            # 30 days back is 6 January: Anna had 10, Bram nothing yet.
            self.assertEqual((anna.score, anna.trend, anna.trend_direction), (18.0, 8.0, "up"))
            self.assertEqual((bram.score, bram.trend), (10.0, 10.0))
            Score = self.Score.with_user(self.salesman)
            self.assertEqual(Score.search([("trend_direction", "=", "up")]), anna | bram, "Rising")
            self.assertFalse(Score.search([("trend_direction", "=", "down")]))
            self.anna.country_id = self.be
            self.recompute()  # Anna 8
            anna.invalidate_recordset()
            self.assertEqual((anna.trend, anna.trend_direction), (-2.0, "down"))
            self.assertEqual(Score.search([("trend_direction", "=", "down")]), anna)

    def test_percentile_counts_the_rows_below(self):
        Partner = self.env["res.partner"]
        extra = Partner.create(
            [{"name": f"Klant {i}", "email": f"k{i}@example.nl"} for i in range(7)]
        )
        (extra[:4]).write({"country_id": self.nl.id})
        extra[4:6].write({"country_id": self.nl.id, "is_company": True})
        self.recompute()
        rows = self.Score.with_user(self.salesman).search([("model_id", "=", self.engagement.id)])
        total = len(rows)
        self.assertGreater(total, 6)
        for row in rows:
            below = len(rows.filtered(lambda r, s=row.score: r.score < s))
            self.assertEqual(row.percentile, 100 * below // total, row.score)
        top_rows = rows.filtered(lambda r: r.percentile >= 70)
        self.assertIn(extra[4].id, top_rows.partner_id.ids, "35 points is in the top 30%")
        self.assertNotEqual(top_rows, rows)
        Score = self.Score.with_user(self.salesman)
        self.assertEqual(Score.search([("percentile", ">=", 70)]), top_rows)
        self.assertEqual(
            Score.search([("percentile", ">", 69)]), top_rows, "> 69 is >= 70 for integers"
        )
        self.assertEqual(
            self.env["res.partner"]
            .with_user(self.salesman)
            .search([("lead_score_ids", "any", [("percentile", ">=", 70)])]),
            top_rows.partner_id,
            "the Top filter on contacts",
        )

    def test_next_steps_and_points_to_next(self):
        with freeze_time("2026-01-01 09:00:00"):
            self.recompute()
            anna = self.row(self.anna)
            self.assertEqual(
                (anna.next_threshold_id.name, anna.points_to_next), ("Klaar voor sales", 20.0)
            )
            steps = anna._lead_scoring_next_steps()
            self.assertEqual(
                [(step["name"], step["points"]) for step in steps],
                [("Bedrijf", 25.0), ("Offerte aangevraagd", 8.0)],
                "rules not matched and lines allowed, largest first; no negative rule",
            )
            html = str(anna.next_steps_html)
            self.assertIn("To reach Klaar voor sales: 20 points", html)
            self.assertIn("<li>Bedrijf: +25</li>", html)
            self.env["crm.lead"].create({"name": "Offerte", "partner_id": self.anna.id})
            self.recompute()
            anna.invalidate_recordset()
            self.assertEqual(
                [step["name"] for step in anna._lead_scoring_next_steps()],
                ["Bedrijf"],
                "the line is in its cooldown",
            )

    def test_trend_beside_the_primary_score_on_cards_and_lists(self):
        with freeze_time("2026-01-01 09:00:00"):
            self.recompute()
        with freeze_time("2026-01-20 09:00:00"):
            self.env["crm.lead"].create({"name": "Offerte", "partner_id": self.anna.id})
        with freeze_time("2026-02-05 09:00:00"):
            partners = (self.anna | self.bram).with_user(self.salesman)
            self.assertEqual(partners.mapped("lead_scoring_trend_direction"), ["up", False])
            self.assertEqual(self.anna.with_user(self.salesman).lead_scoring_trend_arrow, "▲ +8")
            self.assertEqual(
                self.anna.lead_scoring_trend_arrow, self.row(self.anna).trend_arrow, "same figure"
            )

    def test_contact_form_with_trend_percentile_in_30_queries(self):
        """What a sales rep's client reads to open a contact: every field of
        the form, its Scores tab with the columns of its list (trend,
        percentile, band, progress to the next threshold)."""
        self.recompute()
        partner = self.anna.with_user(self.salesman)
        spec = dict(Form(partner)._view["fields_spec"])  # also warms the views
        columns = etree.fromstring(
            partner.get_views([(False, "form")])["views"]["form"]["arch"]
        ).xpath("//field[@name='lead_score_ids']/list/field")
        spec["lead_score_ids"] = {
            "fields": {
                node.get("name"): {"fields": {"display_name": {}}}
                if self.Score._fields[node.get("name")].type == "many2one"
                else {}
                for node in columns
            }
        }
        self.env.invalidate_all()
        with self.assertQueryCount(22):  # the budget is 30
            [values] = partner.web_read(spec)
        [row] = values["lead_score_ids"]
        self.assertEqual((row["score"], row["trend_arrow"], row["percentile"]), (10.0, "▲ +10", 0))


@tagged("post_install", "-at_install")
class TestInsightSearch(LeadScoringCase):
    """The trend and percentile filters find exactly the score rows whose
    computed trend and percentile match, within the search's own statement."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.plain = cls.create_model(
            "Activiteit",
            rules=[
                ("NL", NL, 10.0),
                ("Bedrijf", COMPANY, 25.0),
                ("Belgisch", BE, 6.0, {"expire_after": 14, "expire_unit": "days"}),
            ],
        )
        cls.decaying = cls.create_model(
            "Verval", rules=[("NL", NL, 10.0)], decay_half_life_days=30.0
        )
        cls.capped = cls.create_model(
            "Plafond",
            rules=[("NL", NL, 10.0), ("Bedrijf", COMPANY, 25.0)],
            use_max_score=True,
            max_score=20.0,
        )

    def manual_line(self, partner, points, expire_date=False):
        """A manager's line in the plain model, dated now (frozen)."""
        self.Point.create(
            {
                "model_id": self.plain.id,
                "partner_id": partner.id,
                "points": points,
                "reason": "Handmatig",
                "source": "manual",
                "expire_date": expire_date,
            }
        )

    def build_history(self):
        """Lines dated before and after the trend moment (6 January, 30 days
        before 5 February), closed before and after it, expiring before it,
        between it and now, and after now; ``{name: contact}``."""
        Partner = self.env["res.partner"]
        with freeze_time("2025-12-20 09:00:00"):
            early = Partner.create({"name": "Vroeg", "country_id": self.be.id})
            self.recompute()  # Belgisch +6 until 3 January (Bram too)
        with freeze_time("2026-01-01 09:00:00"):
            people = {
                name: Partner.create({"name": name, **values})
                for name, values in (
                    ("steady", {"country_id": self.nl.id}),
                    ("closing", {"is_company": True}),
                    ("closed_early", {"is_company": True}),
                    ("expiring", {"country_id": self.be.id}),
                    ("capped_rise", {"is_company": True}),
                    ("rising", {}),
                    ("offset", {}),
                    ("kept", {}),
                    ("tiny", {}),
                    ("tiny_up", {}),
                    ("tiny_down", {}),
                    ("tiny_down_more", {}),
                )
            }
            people["early"] = early
            self.recompute()  # Belgisch of "expiring" until 15 January
            self.manual_line(people["offset"], 5.0, "2026-01-20 09:00:00")
            self.manual_line(people["kept"], 3.0, "2026-03-01 09:00:00")
        with freeze_time("2026-01-03 09:00:00"):
            people["closed_early"].is_company = False
            self.recompute()
        with freeze_time("2026-01-20 09:00:00"):
            (people["rising"] | people["capped_rise"]).country_id = self.nl
            self.recompute()
        with freeze_time("2026-01-22 09:00:00"):
            self.manual_line(people["offset"], 5.0)
            self.manual_line(people["tiny"], 0.995)
            self.manual_line(people["tiny_up"], 1.005)
            self.manual_line(people["tiny_down"], -0.995)
            self.manual_line(people["tiny_down_more"], -1.005)
        with freeze_time("2026-01-25 09:00:00"):
            people["closing"].is_company = False
            self.recompute()
        return people

    def assert_finds(self, domain, predicate):
        """The search finds the rows whose computed fields satisfy
        ``predicate``, among every score row."""
        Score = self.Score.with_user(self.salesman)
        rows = Score.search([])
        self.assertEqual(Score.search(domain), rows.filtered(predicate), domain)

    def test_trend_search_matches_the_computed_trend(self):
        people = self.build_history()
        with freeze_time("2026-02-05 09:00:00"):
            self.recompute()
            Score = self.Score.with_user(self.salesman)

            def trend(scoring_model, name):
                return Score.search(
                    [("model_id", "=", scoring_model.id), ("partner_id", "=", people[name].id)]
                ).trend

            self.assertEqual(
                {name: trend(self.plain, name) for name in people},
                {
                    "steady": 0.0,
                    "closing": -25.0,
                    "closed_early": 0.0,
                    "expiring": -6.0,
                    "capped_rise": 10.0,
                    "rising": 10.0,
                    "offset": 0.0,
                    "kept": 0.0,
                    "tiny": 0.99,  # 0.995 shown rounded: steady
                    "tiny_up": 1.0,  # 1.005 as a float is below 1.005: 1.0, up
                    "tiny_down": -0.99,
                    "tiny_down_more": -1.0,
                    "early": 0.0,
                },
            )
            self.assertEqual(trend(self.capped, "capped_rise"), 0.0, "20 then, 20 now: the cap")
            self.assertEqual(trend(self.capped, "closing"), -20.0)
            self.assertLess(trend(self.decaying, "steady"), -1.0, "decay moves every score")
            self.assertGreater(trend(self.decaying, "rising"), 1.0)
            rows = Score.search([])
            self.assertEqual(
                set(rows.mapped("trend_direction")), {"up", "down", "steady"}, "all three"
            )
            for direction in ("up", "down", "steady"):
                self.assert_finds(
                    [("trend_direction", "=", direction)],
                    lambda row, d=direction: row.trend_direction == d,
                )
                self.assert_finds(
                    [("trend_direction", "!=", direction)],
                    lambda row, d=direction: row.trend_direction != d,
                )
            self.assert_finds(
                [("trend_direction", "in", ["up", "down"])],
                lambda row: row.trend_direction in ("up", "down"),
            )
            self.assert_finds(
                [("trend_direction", "not in", ["up", "steady"])],
                lambda row: row.trend_direction == "down",
            )
            values = sorted({*rows.mapped("trend"), -25, -6, -1, 0, 0.99, 0.995, 1, 1.005, 2.5})
            checks = {
                ">=": lambda a, b: a >= b,
                ">": lambda a, b: a > b,
                "<=": lambda a, b: a <= b,
                "<": lambda a, b: a < b,
                "=": lambda a, b: a == b,
                "!=": lambda a, b: a != b,
            }
            for value in values:
                for operator, check in checks.items():
                    self.assert_finds(
                        [("trend", operator, value)],
                        lambda row, c=check, v=value: c(row.trend, v),
                    )
            steady = Score.search([("trend_direction", "=", "steady")])
            for name in ("steady", "closed_early", "early", "kept"):
                self.assertIn(people[name], steady.partner_id, f"{name}: no line moved, steady")

    def old_percentile_bound(self, model_id, value):
        """The bound as it was found before: walking the score index up."""
        cr = self.env.cr
        cr.execute(SQL("SELECT count(*) FROM lead_scoring_score WHERE model_id = %s", model_id))
        total = cr.fetchone()[0]
        needed = math.ceil(value * total / 100)
        if needed <= 0:
            return (float("-inf"), False) if total else None
        if needed >= total:
            return None
        cr.execute(
            SQL(
                "SELECT score FROM lead_scoring_score WHERE model_id = %s"
                " ORDER BY score OFFSET %s LIMIT 1",
                model_id,
                needed - 1,
            )
        )
        return cr.fetchone()[0], True

    def test_percentile_bound_on_ties_and_small_populations(self):
        scoring_model = self.plain
        partners = self.env["res.partner"].create(
            [{"name": f"Klant {number}"} for number in range(12)]
        )
        Score = self.Score.with_user(self.salesman)
        for size in range(1, 13):
            for spread in (1, 3, 100):  # all tied, many ties, (nearly) distinct
                self.Score.search([("model_id", "=", scoring_model.id)]).unlink()
                self.Score.create(
                    [
                        {
                            "model_id": scoring_model.id,
                            "partner_id": partner.id,
                            "score": float(number * 7 % spread),
                        }
                        for number, partner in enumerate(partners[:size])
                    ]
                )
                rows = Score.search([("model_id", "=", scoring_model.id)])
                for value in (0, 1, 10, 33, 50, 85, 90, 99, 100, 101):
                    found = Score.search(
                        [("model_id", "=", scoring_model.id), ("percentile", ">=", value)]
                    )
                    label = f"{rows.mapped('score')} >= {value}"
                    self.assertEqual(
                        found, rows.filtered(lambda r, v=value: r.percentile >= v), label
                    )
                    bound = self.old_percentile_bound(scoring_model.id, value)
                    old = (
                        rows.filtered(
                            lambda r, b=bound: r.score > b[0] or (not b[1] and r.score == b[0])
                        )
                        if bound
                        else Score
                    )
                    self.assertEqual(found, old, f"{label}: as the old bound")
        # 7 distinct scores: the top one has 6 rows below, a percentile of 85.
        self.Score.search([("model_id", "=", scoring_model.id)]).unlink()
        self.Score.create(
            [
                {"model_id": scoring_model.id, "partner_id": partner.id, "score": float(number)}
                for number, partner in enumerate(partners[:7])
            ]
        )
        rows = Score.search([("model_id", "=", scoring_model.id)])
        self.assertEqual(max(rows.mapped("percentile")), 85)
        self.assertFalse(
            Score.search([("model_id", "=", scoring_model.id), ("percentile", ">=", 85.5)]),
            "a percentile is an integer: 85.5 or more is 86 or more",
        )
        self.assertEqual(
            Score.search([("model_id", "=", scoring_model.id), ("percentile", ">", 84.5)]),
            rows.filtered(lambda r: r.percentile == 85),
        )

    def test_contacts_top_10_and_rising_in_few_queries(self):
        """The contacts' "Top 10%" and "Rising" filters as the list loads
        them (a page and the count): the bound and the trends are subqueries
        of the search's statement, not statements of their own."""
        self.build_history()
        with freeze_time("2026-02-05 09:00:00"):
            self.recompute()
            Partner = self.env["res.partner"].with_user(self.salesman)
            for domain in (TOP_10, RISING):
                Partner.search(domain, limit=80)  # the registry's caches (rules, access)
            # Each search: one statement for the bounds (or the live models), one
            # for the contacts; and once the user's companies (the record rules).
            self.env.invalidate_all()
            with self.assertQueryCount(5):
                top = Partner.search(TOP_10, limit=80)
                Partner.search_count(TOP_10, limit=10001)
            self.assertEqual(
                top,
                Partner.search([]).filtered(
                    lambda p: any(row.percentile >= 90 for row in p.lead_score_ids)
                ),
            )
            self.env.invalidate_all()
            with self.assertQueryCount(5):
                rising = Partner.search(RISING, limit=80)
                Partner.search_count(RISING, limit=10001)
            self.assertEqual(
                rising,
                Partner.search([]).filtered(
                    lambda p: any(row.trend_direction == "up" for row in p.lead_score_ids)
                ),
            )


@tagged("post_install", "-at_install")
class TestRevenueForecast(LeadScoringCase):
    """Expected revenue x the win probability of the deal score: 0 until the
    lab calibrated the deal model, then kept current in one statement."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.deals = cls.create_model(
            "Dealkwaliteit",
            target="deal",
            rules=[("Hoge prioriteit", "[('priority', '=', '3')]", 40.0)],
        )
        Lead = cls.env["crm.lead"]
        values = {"type": "opportunity", "user_id": cls.salesman.id}
        cls.hot = Lead.create(
            {"name": "Groot", "priority": "3", "expected_revenue": 10000, **values}
        )
        cls.cold = Lead.create({"name": "Klein", "expected_revenue": 2000, **values})

    def calibrate(self, intercept=-2.0, slope=0.05):
        self.deals.write(
            {
                "date_lab_applied": "2026-01-01 00:00:00",
                "win_calibration_intercept": intercept,
                "win_calibration_slope": slope,
                "scores_dirty": True,
            }
        )
        self.recompute()

    def expected(self, lead, intercept=-2.0, slope=0.05):
        """The forecast computed the other way: lab_math's probability in Python."""
        probability = round(lab_math.win_probability(intercept, slope, lead.deal_score), 2)
        return round(lead.expected_revenue * probability / 100.0, 2)

    def test_zero_until_calibrated_then_revenue_times_probability(self):
        self.recompute()
        leads = (self.hot | self.cold).with_user(self.salesman)
        self.assertEqual(leads.mapped("lead_scoring_forecast"), [0.0, 0.0])
        # A forecast of 0 is left empty (it reads 0): the first run after the
        # install does not rewrite every deal to store it.
        self.env["crm.lead"]._lead_scoring_update_forecast()
        self.env.cr.execute(
            SQL(
                "SELECT count(*) FROM crm_lead WHERE id = ANY(%s)"
                " AND lead_scoring_forecast IS NULL",
                leads.ids,
            )
        )
        self.assertEqual(self.env.cr.fetchone()[0], 2)
        self.calibrate()
        leads.invalidate_recordset()
        self.assertEqual(self.hot.deal_score, 40.0)
        # 40 points: log-odds 0, 50 %; no point: log-odds -2, 11.92 %.
        self.assertEqual(leads.mapped("lead_scoring_forecast"), [5000.0, 238.4])
        self.assertEqual(
            leads.mapped("lead_scoring_forecast"), [self.expected(lead) for lead in leads]
        )
        self.assertEqual(self.hot.with_user(self.salesman).deal_win_probability, 50.0)

    def test_follows_revenue_score_and_new_deals(self):
        self.calibrate()
        salesman_lead = self.cold.with_user(self.salesman)
        salesman_lead.write({"expected_revenue": 5000})
        self.assertEqual(salesman_lead.lead_scoring_forecast, 596.0, "5000 x 11.92 %")
        salesman_lead.write({"priority": "3"})
        self.recompute()
        salesman_lead.invalidate_recordset()
        self.assertEqual(salesman_lead.lead_scoring_forecast, 2500.0, "now at 50 %")
        new = (
            self.env["crm.lead"]
            .with_user(self.salesman)
            .create({"name": "Nieuw", "type": "opportunity", "expected_revenue": 1000})
        )
        self.assertEqual(new.user_id, self.salesman)
        self.assertEqual(new.lead_scoring_forecast, 119.2, "a deal without points: score 0")
        # Closed: a won deal is its revenue, a lost one nothing.
        won_stage = self.env["crm.stage"].search([("is_won", "=", True)], limit=1)
        salesman_lead.write({"stage_id": won_stage.id})
        self.assertEqual(salesman_lead.lead_scoring_forecast, 5000.0)
        new.action_set_lost()
        self.assertEqual(new.with_context(active_test=False).lead_scoring_forecast, 0.0)

    def test_pipeline_totals_per_band_and_salesperson(self):
        self.calibrate()
        Lead = self.env["crm.lead"].with_user(self.salesman)
        groups = Lead.read_group(
            [("id", "in", (self.hot | self.cold).ids)],
            ["lead_scoring_forecast:sum"],
            ["user_id"],
        )
        self.assertEqual(groups[0]["lead_scoring_forecast"], 5238.4)

    def test_conversion_report_sets_forecast_beside_won_revenue(self):
        with freeze_time("2026-03-01 09:00:00"):
            self.calibrate()
        with freeze_time("2026-03-02 09:00:00"):
            won_stage = self.env["crm.stage"].search([("is_won", "=", True)], limit=1)
            self.hot.stage_id = won_stage
            self.cold.with_user(self.salesman).action_set_lost()
            self.assertEqual(
                (self.cold.active, self.cold.probability, bool(self.cold.date_closed)),
                (False, 0.0, True),
            )
        self.env.flush_all()  # the report is a view of the opportunities' table
        rows = (
            self.env["lead.scoring.conversion.report"]
            .with_user(self.salesman)
            .search([("model_id", "=", self.deals.id)])
        )
        by_lead = {row.lead_id: (row.forecast, row.won_revenue) for row in rows}
        self.assertEqual(by_lead[self.hot], (5000.0, 10000.0))
        self.assertEqual(by_lead[self.cold], (238.4, 0.0))
