import math
import random
from datetime import timedelta

from freezegun import freeze_time
from lxml import etree

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.fields import Command
from odoo.tests import tagged

from .. import lab_math
from .common import LeadScoringCase

# The true model of the synthetic deals: log-odds of winning.
INTERCEPT = -1.0
TRUE_WEIGHTS = {
    "tag_a": math.log(4),  # a rule: 2 doublings = 40 points at 20 per doubling
    "urgent": -math.log(2),  # a rule: -20 points
    "noise": 0.0,  # a rule that tells nothing
    "tag_d": math.log(2),  # no rule: the lab should discover it (+20)
}
PER_CELL = 60


@tagged("post_install", "-at_install")
class TestScoringLab(LeadScoringCase):
    """The scoring lab on synthetic closed deals whose true weights are known."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Lead = cls.env["crm.lead"]
        cls.won_stage = cls.env["crm.stage"].search([("is_won", "=", True)], limit=1)
        Tag = cls.env["crm.tag"]
        cls.tag_a, cls.tag_d, cls.tag_other = Tag.create(
            [{"name": "Lab A"}, {"name": "Lab D"}, {"name": "Lab other"}]
        )
        cls.source = cls.env["utm.source"].create({"name": "Lab noise"})
        # Current points that get it wrong: too little for A, urgent rewarded.
        cls.deal_model = cls.create_model(
            "Dealkwaliteit",
            target="deal",
            rules=[
                ("Tag A", f"[('tag_ids', 'in', [{cls.tag_a.id}])]", 5),
                ("Urgent", "[('priority', '=', '3')]", 10),
                ("Noise source", f"[('source_id', '=', {cls.source.id})]", 15),
            ],
        )
        cls.rule_a, cls.rule_urgent, cls.rule_noise = cls.deal_model.rule_ids
        cls.now = fields.Datetime.now()
        cls.deals = cls.create_outcomes(cls.synthetic_cells(), cls.now - timedelta(days=300))

    @classmethod
    def synthetic_cells(cls):
        """Every combination of the four factors, ``PER_CELL`` deals each,
        won in exact proportion to the true model."""
        cells = []
        names = list(TRUE_WEIGHTS)
        for mask in range(2 ** len(names)):
            on = {name for i, name in enumerate(names) if mask >> i & 1}
            p = lab_math.sigmoid(INTERCEPT + sum(TRUE_WEIGHTS[name] for name in on))
            won = round(PER_CELL * p)
            cells.append((cls.deal_values(on), won, PER_CELL - won))
        return cells

    @classmethod
    def deal_values(cls, on):
        tags = [cls.tag_other.id]
        tags += [cls.tag_a.id] if "tag_a" in on else []
        tags += [cls.tag_d.id] if "tag_d" in on else []
        return {
            "tag_ids": [(6, 0, tags)],
            "priority": "3" if "urgent" in on else "1",
            "source_id": cls.source.id if "noise" in on else False,
        }

    @classmethod
    def create_outcomes(cls, cells, start, days=250, partner=None):
        """Closed opportunities for ``(values, won, lost)`` cells, their
        closing dates shuffled over ``days`` days from ``start``."""
        outcomes = [(values, True) for values, won, _l in cells for _ in range(won)]
        outcomes += [(values, False) for values, _w, lost in cells for _ in range(lost)]
        random.Random(7).shuffle(outcomes)  # noqa: S311 -- test data
        step = timedelta(days=days) / max(len(outcomes), 1)
        return cls.env["crm.lead"].create(
            [
                {
                    "name": f"Lab deal {i}",
                    "type": "opportunity",
                    "partner_id": partner.id if partner else cls.anna.id,
                    "date_closed": start + i * step,
                    **values,
                    **(
                        {"stage_id": cls.won_stage.id}
                        if won
                        else {"active": False, "probability": 0}
                    ),
                }
                for i, (values, won) in enumerate(outcomes)
            ]
        )

    def lab(self, scoring_model=None, user=None, **values):
        Lab = self.env["lead.scoring.lab"].with_user(user or self.manager)
        return Lab.create({"model_id": (scoring_model or self.deal_model).id, **values})

    def line(self, lab, rule):
        return lab.line_ids.filtered(lambda line: line.rule_id == rule)

    # ------------------------------------------------------------------
    # Analyse
    # ------------------------------------------------------------------

    def test_points_recovered_from_known_weights(self):
        lab = self.lab()
        self.assertEqual(lab.points_to_double_odds, 20.0)
        self.assertEqual(lab.date_to, fields.Date.context_today(lab))
        lab.action_analyse()
        won = len(self.deals.filtered("active"))
        self.assertEqual((lab.won_count, lab.lost_count), (won, len(self.deals) - won))
        self.assertEqual(lab.train_count + lab.test_count, len(self.deals))
        self.assertEqual(lab.test_count, round(0.3 * len(self.deals)))
        line_a, line_urgent, line_noise = (
            self.line(lab, rule) for rule in (self.rule_a, self.rule_urgent, self.rule_noise)
        )
        # True: +40, -20, 0 (fitted on the older 70% only, hence the tolerance).
        self.assertAlmostEqual(line_a.suggested_points, 40, delta=6)
        self.assertAlmostEqual(line_urgent.suggested_points, -20, delta=6)
        self.assertLessEqual(abs(line_noise.suggested_points), 5)
        self.assertEqual(line_a.current_points, 5)
        self.assertEqual(line_a.won_hits + line_a.lost_hits, 8 * PER_CELL)
        self.assertGreater(line_a.lift, 1.2)
        self.assertLess(line_urgent.lift, 0.9)
        self.assertAlmostEqual(line_noise.lift, 1.0, delta=0.05)
        # The wrong current points rank worse than the suggested ones.
        self.assertTrue(lab.auc_measured)
        self.assertTrue(0.4 < lab.auc < lab.suggested_auc < 0.85, (lab.auc, lab.suggested_auc))
        # The lift chart: ten deciles per series, the top one above average.
        suggested = lab.lift_ids.filtered(lambda row: row.series == "suggested")
        self.assertEqual(suggested.mapped("decile"), list(range(1, 11)))
        self.assertAlmostEqual(sum(suggested.mapped("outcome_count")), lab.test_count)
        top, bottom = suggested[0], suggested[-1]
        self.assertGreater(top.lift, 1.2)
        self.assertLess(bottom.lift, top.lift)

    def test_editing_a_suggestion_updates_its_auc(self):
        lab = self.lab()
        lab.action_analyse()
        fitted = lab.suggested_auc
        self.line(lab, self.rule_a).suggested_points = -40
        self.assertLess(lab.suggested_auc, fitted)

    def test_tag_discovered_as_candidate(self):
        lab = self.lab()
        lab.action_analyse()
        candidate = lab.candidate_ids.filtered(
            lambda c: c.domain == f"[('tag_ids', 'in', [{self.tag_d.id}])]"
        )
        self.assertEqual(candidate.name, "Tags include Lab D")
        self.assertEqual(candidate.won_hits + candidate.lost_hits, 8 * PER_CELL)
        self.assertAlmostEqual(candidate.suggested_points, 20, delta=6)
        self.assertEqual(candidate, lab.candidate_ids[0], "the strongest signal comes first")
        self.assertGreater(candidate.lift, 1.1)
        # Conditions that repeat a rule (tag A, the noise source), that every
        # outcome meets (tag "other") or that tell nothing are not candidates.
        domains = lab.candidate_ids.mapped("domain")
        self.assertNotIn(f"[('tag_ids', 'in', [{self.tag_a.id}])]", domains)
        self.assertNotIn(f"[('source_id', '=', {self.source.id})]", domains)
        self.assertNotIn(f"[('tag_ids', 'in', [{self.tag_other.id}])]", domains)
        self.assertLessEqual(len(lab.candidate_ids), 20)
        self.assertTrue(all(c.won_hits + c.lost_hits >= 20 for c in lab.candidate_ids))
        candidate.action_add_rule()
        rule = candidate.rule_id
        self.assertEqual(
            (rule.model_id, rule.name, rule.domain, rule.points),
            (self.deal_model, candidate.name, candidate.domain, candidate.suggested_points),
        )
        candidate.action_add_rule()
        self.assertEqual(len(self.deal_model.rule_ids), 4, "added once")

    def test_analyse_is_set_based(self):
        """The number of queries does not grow with the number of outcomes."""

        def analyse():
            lab = self.lab()
            self.env.invalidate_all()
            queries = self.env.cr.sql_log_count
            lab.action_analyse()
            return lab, self.env.cr.sql_log_count - queries

        analyse()  # caches of the first call (groups, fields) out of the way
        lab, first = analyse()
        self.assertLess(first, 60)
        self.create_outcomes(self.synthetic_cells(), self.now - timedelta(days=290))
        lab, second = analyse()
        self.assertEqual(lab.won_count + lab.lost_count, 2 * len(self.deals))
        self.assertEqual(second, first)

    # ------------------------------------------------------------------
    # Apply
    # ------------------------------------------------------------------

    def test_apply_reawards_open_lines_and_notes_it(self):
        Lead = self.env["crm.lead"]
        hot = Lead.create(
            {
                "name": "Open A",
                "type": "opportunity",
                "partner_id": self.bram.id,
                "tag_ids": [(6, 0, [self.tag_a.id, self.tag_d.id])],
                "priority": "1",
            }
        )
        cold = Lead.create(
            {"name": "Open urgent", "type": "opportunity", "priority": "3", "partner_id": False}
        )
        self.recompute()
        self.assertEqual((hot.deal_score, cold.deal_score), (5.0, 10.0))
        old_line = self.lines_of(self.deal_model, hot)
        self.assertFalse(self.Score.search([("lead_id", "=", hot.id)]).win_probability)
        self.assertFalse(hot.deal_win_probability, "no lab applied yet")
        lab = self.lab()
        lab.action_analyse()
        new_a = self.line(lab, self.rule_a).suggested_points
        new_urgent = self.line(lab, self.rule_urgent).suggested_points
        lab.action_apply()
        self.assertEqual(lab.state, "applied")
        self.assertEqual((self.rule_a.points, self.rule_urgent.points), (new_a, new_urgent))
        # The open line closed and reopened at the new points, at once.
        self.assertTrue(old_line.closed_date)
        new_line = self.lines_of(self.deal_model, hot, closed_date=False)
        self.assertEqual(new_line.points, new_a)
        self.assertEqual(new_line.reason, "Rule: Tag A (points changed by the scoring lab)")
        self.assertEqual(hot.deal_score, new_a)
        self.assertEqual(cold.deal_score, new_urgent)
        # Calibration stored; probabilities follow the score.
        model = self.deal_model
        self.assertTrue(model.date_lab_applied)
        self.assertAlmostEqual(model.lab_auc, lab.suggested_auc, places=6)
        self.assertGreater(model.win_calibration_slope, 0)
        hot_score = self.Score.search([("lead_id", "=", hot.id)])
        cold_score = self.Score.search([("lead_id", "=", cold.id)])
        self.assertGreater(hot_score.win_probability, cold_score.win_probability)
        expected = lab_math.win_probability(
            model.win_calibration_intercept, model.win_calibration_slope, hot_score.score
        )
        self.assertAlmostEqual(hot_score.win_probability, expected, places=1)
        hot.invalidate_recordset(["deal_win_probability"])  # computed from SQL-written scores
        self.assertAlmostEqual(hot.deal_win_probability, hot_score.win_probability)
        bare = Lead.create({"name": "No rule matched", "type": "opportunity", "priority": "1"})
        self.assertFalse(self.Score.search([("lead_id", "=", bare.id)]), "no point, no score row")
        self.assertAlmostEqual(
            bare.deal_win_probability,
            lab_math.win_probability(
                model.win_calibration_intercept, model.win_calibration_slope, 0
            ),
            places=1,
            msg="the chance at score 0",
        )
        likely = Lead.search([("id", "in", (hot | cold).ids), *self.likely_to_win()])
        self.assertEqual(likely, hot if hot_score.win_probability >= 50 else Lead)
        # The model's chatter: old → new points and both AUCs.
        note = model.message_ids[0]
        self.assertEqual(note.author_id, self.manager.partner_id)
        self.assertIn(f"Tag A: 5 → {new_a:g}", note.body)
        self.assertIn(f"Urgent: 10 → {new_urgent:g}", note.body)
        self.assertIn(f"{lab.auc:.2f} with the old points", note.body)
        self.assertIn(f"{lab.suggested_auc:.2f} with the new ones", note.body)
        # The next run changes nothing: the ledger and the scores agree.
        scores = self.Score.search([("model_id", "=", model.id)]).read(["score", "win_probability"])
        self.recompute()
        self.assertEqual(
            self.Score.search([("model_id", "=", model.id)]).read(["score", "win_probability"]),
            scores,
        )
        with self.assertRaises(UserError):
            lab.action_apply()

    def likely_to_win(self):
        return [("lead_score_ids.win_probability", ">=", 50)]

    def test_rule_points_changes_are_tracked_in_the_chatter(self):
        self.rule_a.with_user(self.manager).points = 25
        self.assertIn("Rule Tag A: points 5 → 25", self.deal_model.message_ids[0].body)
        self.rule_a.with_user(self.manager).name = "Tag A (renamed)"
        self.assertEqual(len(self.deal_model.message_ids), 1, "only points are logged")

    def test_win_probability_orders_like_the_score(self):
        self.deal_model.write(
            {
                "win_calibration_intercept": -2.0,
                "win_calibration_slope": 0.05,
                "date_lab_applied": self.now,
            }
        )
        self.deal_model._mark_scores_dirty(self.deal_model.ids)
        leads = self.env["crm.lead"].create(
            [
                {"name": "Ten", "type": "opportunity", "priority": "3"},
                {"name": "Five", "type": "opportunity", "tag_ids": [(6, 0, self.tag_a.ids)]},
                {"name": "None", "type": "opportunity"},
            ]
        )
        self.recompute()
        by_name = {
            score.lead_id.name: score.win_probability
            for score in self.Score.search([("lead_id", "in", leads.ids)])
        }
        # Scores 10 (urgent) and 5 (tag A); a deal matching no rule has no score row.
        self.assertEqual(set(by_name), {"Ten", "Five"})
        self.assertAlmostEqual(by_name["Ten"], 100 * lab_math.sigmoid(-2 + 0.5), places=2)
        self.assertAlmostEqual(by_name["Five"], 100 * lab_math.sigmoid(-2 + 0.25), places=2)
        self.assertGreater(by_name["Ten"], by_name["Five"])
        contact_model = self.create_model(rules=[("NL", "[('country_id.code', '=', 'NL')]", 20)])
        self.recompute()
        anna_score = self.Score.search(
            [("model_id", "=", contact_model.id), ("partner_id", "=", self.anna.id)]
        )
        self.assertEqual(anna_score.score, 20.0)
        self.assertFalse(anna_score.win_probability, "empty for a model whose lab never ran")

    # ------------------------------------------------------------------
    # Guards
    # ------------------------------------------------------------------

    def test_too_few_outcomes_or_one_kind_writes_nothing(self):
        # The synthetic deals closed 300 to 50 days ago: the last 30 days are empty.
        start = self.now - timedelta(days=30)
        lab = self.lab(date_from=start.date(), date_to=self.now.date())
        with self.assertRaisesRegex(UserError, "Only 0 won or lost outcomes"):
            lab.action_analyse()
        self.create_outcomes([(self.deal_values(set()), 10, 10)], start, days=20)
        with self.assertRaisesRegex(UserError, "Only 20 won or lost outcomes.*at least 30"):
            lab.action_analyse()
        self.assertFalse(lab.line_ids)
        self.assertEqual((lab.state, lab.won_count), ("draft", 0))
        # 40 won deals, none lost, 340 to 320 days ago.
        long_ago = self.now - timedelta(days=340)
        self.create_outcomes([(self.deal_values(set()), 40, 0)], long_ago, days=20)
        won_only = self.lab(
            date_from=long_ago.date(), date_to=(long_ago + timedelta(days=21)).date()
        )
        with self.assertRaisesRegex(UserError, "every outcome was won"):
            won_only.action_analyse()
        self.assertFalse(won_only.line_ids)
        with self.assertRaisesRegex(UserError, "ends before it starts"):
            self.lab(date_from=self.now.date(), date_to=start.date()).action_analyse()
        with self.assertRaisesRegex(UserError, "Analyse the model first"):
            self.lab().action_apply()

    def test_rule_whose_hits_are_all_won_is_capped(self):
        tag_vip = self.env["crm.tag"].create({"name": "Lab VIP"})
        self.env["lead.scoring.rule"].create(
            {
                "model_id": self.deal_model.id,
                "name": "VIP",
                "domain": f"[('tag_ids', 'in', [{tag_vip.id}])]",
                "points": 0,
            }
        )
        vip = self.create_outcomes(
            [({"tag_ids": [(6, 0, tag_vip.ids)]}, 25, 0)], self.now - timedelta(days=300)
        )
        self.assertEqual(len(vip), 25)
        lab = self.lab()
        lab.action_analyse()
        line = lab.line_ids.filtered(lambda line: line.rule_id.name == "VIP")
        self.assertEqual((line.won_hits, line.lost_hits), (25, 0))
        self.assertIn("All 25 hits won", line.note)
        # Finite and capped: a few doublings, not infinity.
        self.assertTrue(40 < line.suggested_points < 200, line.suggested_points)

    def test_newest_outcomes_of_one_kind_are_not_measured(self):
        start = self.now - timedelta(days=300)
        lab = self.lab(date_from=start.date(), date_to=self.now.date())
        # The newest 30% (closed after every other) are all lost; the newest
        # 100 of them have a tag a new rule reads.
        block = self.create_outcomes(
            [(self.deal_values({"tag_a"}), 0, 500)], self.now - timedelta(days=40), 30
        )
        tag_new = self.env["crm.tag"].create({"name": "Lab new"})
        block.sorted("date_closed")[-100:].write({"tag_ids": [(4, tag_new.id)]})
        rule_new = self.env["lead.scoring.rule"].create(
            {
                "model_id": self.deal_model.id,
                "name": "New tag",
                "domain": f"[('tag_ids', 'in', [{tag_new.id}])]",
                "points": 5,
            }
        )
        lab.action_analyse()
        self.assertFalse(lab.auc_measured)
        self.assertIn("newest 30% of the outcomes are all won or all lost", lab.evaluation_note)
        self.assertTrue(lab.line_ids.filtered("suggested_points"), "the fit still runs")
        self.assertIn("No hit among the older 70%", self.line(lab, rule_new).note)

    def test_contact_model_outcomes(self):
        """A contact is won with one won opportunity, lost with only lost ones."""
        contacts = self.env["res.partner"].create(
            [{"name": f"Lab contact {i}", "country_id": self.nl.id} for i in range(40)]
        )
        profiel = self.create_model(rules=[("NL", "[('country_id.code', '=', 'NL')]", 20)])
        start = self.now - timedelta(days=100)
        for i, contact in enumerate(contacts):
            kinds = [(True,), (True, False), (False,), (False, False)][i % 4]
            self.create_outcomes(
                [(self.deal_values(set()), int(won), int(not won)) for won in kinds],
                start + timedelta(days=i),
                days=1,
                partner=contact,
            )
        lab = self.lab(profiel, date_from=start.date())
        lab.action_analyse()
        # 10 + 10 contacts with a won deal, 10 + 10 with lost ones only; and
        # Anna, the customer of the synthetic deals (won ones among them).
        self.assertEqual((lab.won_count, lab.lost_count), (21, 20))
        self.assertEqual(lab.line_ids.won_hits + lab.line_ids.lost_hits, 41)

    # ------------------------------------------------------------------
    # Rights
    # ------------------------------------------------------------------

    def test_salesman_cannot_open_or_apply_the_lab(self):
        with self.assertRaises(AccessError):
            self.deal_model.with_user(self.salesman).action_open_lab()
        with self.assertRaises(AccessError):
            self.lab(user=self.salesman)
        lab = self.lab()
        lab.action_analyse()
        with self.assertRaises(AccessError):
            lab.with_user(self.salesman).action_apply()
        with self.assertRaises(AccessError):
            lab.with_user(self.salesman).action_analyse()
        with self.assertRaises(AccessError):
            lab.candidate_ids[:1].with_user(self.salesman).action_add_rule()
        action = self.deal_model.with_user(self.manager).action_open_lab()
        self.assertEqual(action["res_model"], "lead.scoring.lab")
        self.assertEqual(action["context"], {"default_model_id": self.deal_model.id})

    # ------------------------------------------------------------------
    # Model health
    # ------------------------------------------------------------------

    def test_model_health_warns_when_the_auc_falls(self):
        model = self.deal_model
        # The synthetic deals of the last 90 days had no score when they closed.
        self.assertAlmostEqual(model.health_auc, 0.5)
        self.assertFalse(model.health_warning, "no lab applied: nothing to compare with")
        with freeze_time(self.now - timedelta(days=20)):
            model.write({"lab_auc": 0.9, "date_lab_applied": fields.Datetime.now()})
            Lead = self.env["crm.lead"]
            urgent = Lead.create(
                [{"name": f"Urgent {i}", "type": "opportunity", "priority": "3"} for i in range(40)]
            )
            plain = Lead.create([{"name": f"Plain {i}", "type": "opportunity"} for i in range(40)])
            self.recompute()  # urgent deals score 10 from now on, plain ones nothing
        with freeze_time(self.now - timedelta(days=10)):
            # Half the urgent deals won, half lost; the plain ones as well.
            (urgent[:20] | plain[:20]).action_set_won()
            (urgent[20:] | plain[20:]).action_set_lost()
        model.invalidate_recordset()
        self.assertEqual((model.health_won_count, model.health_lost_count), (40, 40))
        self.assertAlmostEqual(model.health_auc, 0.5, msg="the score tells nothing")
        self.assertTrue(model.health_warning)
        self.assertIn("fell from 0.90", model.health_note)
        model.lab_auc = 0.52
        model.invalidate_recordset(["health_warning"])
        self.assertFalse(model.health_warning)

    # ------------------------------------------------------------------
    # What the lab shows (issue 22)
    # ------------------------------------------------------------------

    def test_lift_counts_whole_outcomes(self):
        lab = self.lab()
        lab.action_analyse()
        test_won = sum(won for _hits, won, _lost in lab._patterns()["test"])
        # 288 measured outcomes: 28.8 a tenth, and ties spread over tenths.
        self.assertNotEqual(lab.test_count % 10, 0)
        for series in ("current", "suggested"):
            rows = lab.lift_ids.filtered(lambda row, s=series: row.series == s)
            self.assertEqual(len(rows), 10)
            for row in rows:
                self.assertIsInstance(row.outcome_count, int)
                self.assertIsInstance(row.won_count, int)
                self.assertLessEqual(row.won_count, row.outcome_count)
                if row.outcome_count:
                    self.assertAlmostEqual(
                        row.won_rate, 100.0 * row.won_count / row.outcome_count, delta=0.05
                    )
            self.assertEqual(sum(rows.mapped("outcome_count")), lab.test_count)
            self.assertEqual(sum(rows.mapped("won_count")), test_won)
        self.assertEqual(self.env["lead.scoring.lab.lift"]._fields["outcome_count"].type, "integer")

    def test_thin_evidence_does_not_push_apply(self):
        lab = self.lab()
        lab.action_analyse()
        self.assertGreater(lab.suggested_auc, lab.auc)
        self.assertFalse(lab.evidence_thin, "a suggestion that ranks better is worth applying")
        self.assertFalse(lab.evidence_note)
        # Suggesting the current points gains nothing (0.50 → 0.50 in the issue).
        for line in lab.line_ids:
            line.suggested_points = line.current_points
        self.assertAlmostEqual(lab.suggested_auc, lab.auc)
        self.assertTrue(lab.evidence_thin)
        self.assertIn("gains nothing", lab.evidence_note)
        # A narrow window: enough to fit (≥ 30 outcomes), too few to judge.
        start = (self.now - timedelta(days=200)).date()
        narrow = self.lab(date_from=start, date_to=start + timedelta(days=11))
        narrow.action_analyse()
        self.assertGreaterEqual(narrow.won_count + narrow.lost_count, lab_math.MIN_OUTCOMES)
        self.assertLess(narrow.test_count, lab_math.MIN_OUTCOMES)
        self.assertTrue(narrow.evidence_thin)
        self.assertIn("Too little evidence", narrow.evidence_note)
        # The form: the highlighted Apply is for sound evidence only; Apply stays possible.
        arch = etree.fromstring(
            self.env["lead.scoring.lab"]
            .with_user(self.manager)
            .get_views([(False, "form")])["views"]["form"]["arch"]
        )
        applies = arch.xpath("//header/button[@name='action_apply']")
        self.assertEqual(
            {(button.get("class"), button.get("invisible")) for button in applies},
            {
                ("btn-primary", "state != 'analysed' or evidence_thin"),
                ("btn-secondary", "state != 'analysed' or not evidence_thin"),
            },
        )
        narrow.action_apply()
        self.assertEqual(narrow.state, "applied")

    def test_candidates_below_002_are_marked_not_predictive(self):
        lab = self.lab()
        lab.action_analyse()
        tag_d = lab.candidate_ids.filtered(
            lambda c: c.domain == f"[('tag_ids', 'in', [{self.tag_d.id}])]"
        )
        self.assertTrue(tag_d.is_predictive)
        for candidate in lab.candidate_ids:
            self.assertEqual(candidate.is_predictive, candidate.information_value >= 0.02)
        lab.candidate_ids = [
            Command.create(
                {"name": "Weak", "domain": "[('priority', '=', '2')]", "information_value": 0.01}
            )
        ]
        weak = lab.candidate_ids.filtered(lambda c: c.name == "Weak")
        self.assertFalse(weak.is_predictive)
        arch = etree.fromstring(
            self.env["lead.scoring.lab"]
            .with_user(self.manager)
            .get_views([(False, "form")])["views"]["form"]["arch"]
        )
        candidates = arch.xpath("//field[@name='candidate_ids']/list")[0]
        self.assertEqual(candidates.get("decoration-muted"), "not is_predictive")
        self.assertEqual(
            candidates.xpath("button[@string='Not predictive']/@invisible"),
            ["rule_id or is_predictive"],
        )
