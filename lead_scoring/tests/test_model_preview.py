from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import LeadScoringCase


@tagged("post_install", "-at_install")
class TestModelPreview(LeadScoringCase):
    """The preview of a draft scoring model: exact counts on a constructed
    population, nothing changed by it, the ROC AUC of both rule sets, publish."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner = cls.env["res.partner"]
        # 40 contacts in the model's segment: 10 CEOs (rule X), 10 in
        # Utrecht (rule Y), 20 matching nothing.
        cls.ceos = Partner.create(
            [{"name": f"CEO {i}", "ref": f"PRV-{i:02}", "function": "CEO"} for i in range(10)]
        )
        cls.utrecht = Partner.create(
            [
                {"name": f"Utrecht {i}", "ref": f"PRV-{i + 10:02}", "city": "Utrecht"}
                for i in range(10)
            ]
        )
        cls.others = Partner.create(
            [{"name": f"Other {i}", "ref": f"PRV-{i + 20:02}"} for i in range(20)]
        )
        cls.model = cls.create_model(
            "Profiel",
            rules=[
                ("CEO", "[('function', '=', 'CEO')]", 10),
                ("Utrecht", "[('city', '=', 'Utrecht')]", 5),
            ],
            domain="[('ref', '=like', 'PRV-%')]",
            band_ids=[
                (0, 0, {"name": "Koud", "min_score": 0}),
                (0, 0, {"name": "Warm", "min_score": 25}),
                (0, 0, {"name": "Heet", "min_score": 50}),
            ],
            threshold_ids=[
                (0, 0, {"name": "Warm lead", "score": 25, "action": "create_deal"}),
                (
                    0,
                    0,
                    {
                        "name": "Cooling down",
                        "score": 8,
                        "direction": "down",
                        "action": "schedule_activity",
                    },
                ),
            ],
        )
        cls.rule_x, cls.rule_y = cls.model.rule_ids
        # Behaviour points the draft leaves alone: the first CEO is Warm already.
        cls.Point._add_points(cls.model, [(cls.ceos[0].id, 20.0, "Met at the fair")], "manual")
        cls.ScoringModel._cron_recompute_scores()

    def draft(self, rule_points=None):
        return self.model.with_user(self.manager)._create_draft(rule_points=rule_points)

    def preview(self, draft):
        action = self.env["lead.scoring.preview"].with_user(self.manager)._open_for(draft)
        self.assertEqual((action["res_model"], action["target"]), ("lead.scoring.preview", "new"))
        return self.env["lead.scoring.preview"].with_user(self.manager).browse(action["res_id"])

    def draft_rule(self, draft, live_rule):
        return draft.rule_ids.filtered(lambda r: r.origin_rule_id == live_rule)

    def moves(self, preview):
        return {(m.band_from or "", m.band_to or ""): m.count for m in preview.band_move_ids}

    def state(self):
        """Everything the preview must leave alone."""
        self.env.flush_all()
        self.env.cr.execute(
            """SELECT (SELECT count(*) FROM lead_scoring_point),
                      (SELECT count(*) FROM lead_scoring_point WHERE closed_date IS NULL),
                      (SELECT array_agg(score ORDER BY id) FROM lead_scoring_score),
                      (SELECT count(*) FROM lead_scoring_threshold_crossing),
                      (SELECT count(*) FROM lead_scoring_rule)"""
        )
        return self.env.cr.fetchone()

    def test_population_counts_are_exact(self):
        self.assertEqual(self.score_of(self.model, self.ceos[0]), 30.0)
        self.assertEqual(self.score_of(self.model, self.ceos[1]), 10.0)
        self.assertEqual(self.score_of(self.model, self.utrecht[0]), 5.0)
        # X: 10 → 30; Y removed; Z added (the first 10 others, 60 points).
        draft = self.draft({self.rule_x.id: 30})
        self.draft_rule(draft, self.rule_y).with_user(self.manager).unlink()
        refs = self.others[:10].mapped("ref")
        self.env["lead.scoring.rule"].with_user(self.manager).create(
            {
                "model_id": draft.id,
                "name": "Selected",
                "domain": f"[('ref', 'in', {refs})]",
                "points": 60,
            }
        )
        before = self.state()
        preview = self.preview(draft)
        self.assertEqual(self.state(), before, "the preview changes nothing")
        self.assertEqual((preview.model_id, preview.draft_id), (self.model, draft))
        self.assertEqual(
            (preview.records_changed, preview.records_up, preview.records_down),
            (30, 20, 10),
        )
        # Over 25: the 9 CEOs at 10 (the first one is at 30 already) and the
        # 10 new ones; nobody falls below 8 (Utrecht is at 5 already).
        self.assertEqual((preview.crossings_up, preview.crossings_down), (19, 0))
        self.assertEqual(
            self.moves(preview),
            {("Koud", "Warm"): 9, ("Warm", "Heet"): 1, ("", "Heet"): 10},
            "Utrecht goes from 5 to 0: Koud both times, no move",
        )
        changes = {c.name: (c.change, c.old_points, c.new_points) for c in preview.rule_change_ids}
        self.assertEqual(
            changes,
            {
                "CEO": ("changed", 10.0, 30.0),
                "Utrecht": ("removed", 5.0, 0.0),
                "Selected": ("added", 0.0, 60.0),
            },
        )
        self.assertEqual(
            preview.rule_change_ids.filtered(lambda c: c.name == "CEO").detail, "points"
        )
        self.assertTrue(preview.fire_thresholds, "fires by default")

    def test_preview_predicts_what_publishing_does(self):
        """Rule points up, down, removed, added, a changed filter and bands:
        the scores and bands after publishing are what the preview said."""
        self.Point._add_points(self.model, [(self.utrecht[0].id, 40.0, "Webinar")], "manual")
        self.others[:3].city = "Amersfoort"
        self.recompute()
        draft = self.draft({self.rule_x.id: 22})
        self.draft_rule(draft, self.rule_y).with_user(self.manager).write(
            {"domain": "[('city', 'in', ('Utrecht', 'Amersfoort'))]", "points": 3}
        )
        refs = self.others[10:15].mapped("ref")
        self.env["lead.scoring.rule"].with_user(self.manager).create(
            {
                "model_id": draft.id,
                "name": "New",
                "domain": f"[('ref', 'in', {refs})]",
                "points": 30,
            }
        )
        draft.band_ids.filtered(lambda b: b.name == "Heet").with_user(self.manager).min_score = 40
        preview = self.preview(draft)

        def scores():
            rows = self.Score.search([("model_id", "=", self.model.id)])
            return {row.partner_id: (row.score, row.band_id.name or "") for row in rows}

        predicted = preview.read(["records_changed", "records_up", "records_down", "crossings_up"])[
            0
        ]
        predicted_moves = self.moves(preview)
        before = scores()
        preview.action_publish()
        self.assertFalse(preview.exists(), "gone with its draft")
        after = scores()
        deltas = [after[partner][0] - before.get(partner, (0.0, ""))[0] for partner in after]
        self.assertEqual(
            (predicted["records_changed"], predicted["records_up"], predicted["records_down"]),
            (
                sum(1 for delta in deltas if delta),
                sum(1 for delta in deltas if delta > 0),
                sum(1 for delta in deltas if delta < 0),
            ),
        )
        self.assertEqual((predicted["records_up"], predicted["records_down"]), (18, 10))
        moves = {}
        for partner, (_score, band) in after.items():
            key = (before.get(partner, (0.0, ""))[1], band)
            if key[0] != key[1]:
                moves[key] = moves.get(key, 0) + 1
        self.assertEqual(predicted_moves, moves)
        self.assertEqual(
            moves, {("Warm", "Heet"): 2, ("", "Koud"): 3, ("", "Warm"): 5}, "as worked out"
        )
        lifted = sum(
            1
            for partner, (score, _band) in after.items()
            if score >= 25 > before.get(partner, (0.0, ""))[0]
        )
        self.assertEqual((predicted["crossings_up"], lifted), (5, 5))

    def test_falling_points_cross_down_thresholds(self):
        draft = self.draft({self.rule_x.id: 5})
        preview = self.preview(draft)
        self.assertEqual(
            (preview.records_changed, preview.records_up, preview.records_down),
            (10, 0, 10),
        )
        # The 9 CEOs at 10 drop to 5, below 8; the first drops from 30 to 25.
        self.assertEqual((preview.crossings_up, preview.crossings_down), (0, 9))
        self.assertEqual(self.moves(preview), {}, "Koud stays Koud, Warm stays Warm")

    def test_unchanged_draft_changes_nothing(self):
        preview = self.preview(self.draft())
        self.assertEqual(
            (
                preview.records_changed,
                preview.crossings_up,
                preview.crossings_down,
                len(preview.band_move_ids),
                len(preview.rule_change_ids),
            ),
            (0, 0, 0, 0, 0),
        )

    def test_changed_filter_and_draft_bands(self):
        draft = self.draft()
        # Utrecht becomes "Utrecht or Amersfoort": two more contacts match.
        self.others[:2].city = "Amersfoort"
        self.draft_rule(draft, self.rule_y).with_user(
            self.manager
        ).domain = "[('city', 'in', ('Utrecht', 'Amersfoort'))]"
        # The draft's bands: Warm from 8, so the CEOs at 10 become Warm.
        draft.band_ids.filtered(lambda b: b.name == "Warm").with_user(self.manager).min_score = 8
        preview = self.preview(draft)
        self.assertEqual((preview.records_changed, preview.records_up), (2, 2))
        self.assertEqual(self.moves(preview), {("Koud", "Warm"): 9, ("", "Koud"): 2})
        change = preview.rule_change_ids
        self.assertEqual(
            (change.name, change.change, change.detail), ("Utrecht", "changed", "filter")
        )

    def test_auc_of_live_and_draft_rules(self):
        """Closed deals: 20 won, all urgent; 30 lost, 10 of them urgent.
        Live: urgent -10; draft: urgent +10. ROC AUC = P(won above lost) +
        half the ties: live 100/600, draft 500/600."""
        won_stage = self.env["crm.stage"].search([("is_won", "=", True)], limit=1)
        deal_model = self.create_model(
            "Dealkwaliteit", target="deal", rules=[("Urgent", "[('priority', '=', '3')]", -10)]
        )
        now = fields.Datetime.now()
        deals = [("3", True)] * 20 + [("3", False)] * 10 + [("1", False)] * 20
        self.env["crm.lead"].create(
            [
                {
                    "name": f"Deal {i}",
                    "type": "opportunity",
                    "priority": priority,
                    "date_closed": now - timedelta(days=10 + i),
                    **({"stage_id": won_stage.id} if won else {"active": False, "probability": 0}),
                }
                for i, (priority, won) in enumerate(deals)
            ]
        )
        # An outcome older than 12 months does not count.
        self.env["crm.lead"].create(
            {
                "name": "Old",
                "type": "opportunity",
                "priority": "1",
                "stage_id": won_stage.id,
                "date_closed": now - timedelta(days=400),
            }
        )
        urgent = deal_model.rule_ids
        draft = deal_model.with_user(self.manager)._create_draft(rule_points={urgent.id: 10})
        preview = self.preview(draft)
        self.assertEqual((preview.won_count, preview.lost_count), (20, 30))
        # Shown with two decimals, as the lab's.
        self.assertAlmostEqual(preview.auc_live, 1 / 6, places=2)
        self.assertAlmostEqual(preview.auc_draft, 5 / 6, places=2)
        exact = preview._auc_values(draft, deal_model)
        self.assertAlmostEqual(exact["auc_live"], 1 / 6, places=9)
        self.assertAlmostEqual(exact["auc_draft"], 5 / 6, places=9)
        # A contact model's outcomes are the customers of the deals: none here.
        contact_preview = self.preview(self.draft())
        self.assertEqual(
            (contact_preview.won_count, contact_preview.lost_count, contact_preview.auc_live),
            (0, 0, 0.0),
        )

    def test_publish_without_firing(self):
        draft = self.draft({self.rule_x.id: 30})
        preview = self.preview(draft)
        preview.fire_thresholds = False
        action = preview.action_publish()
        self.assertEqual(
            (action["res_model"], action["res_id"]), ("lead.scoring.model", self.model.id)
        )
        self.assertFalse(draft.exists())
        self.assertEqual(len(self.model.version_ids), 1)
        self.assertEqual(self.model.version, 2)
        self.assertEqual(self.rule_x.points, 30)
        self.assertEqual(self.score_of(self.model, self.ceos[1]), 30.0)
        self.assertEqual(self.score_of(self.model, self.ceos[0]), 50.0)
        self.recompute()
        deals = self.env["crm.lead"].search(
            [("lead_scoring_threshold_id", "in", self.model.threshold_ids.ids)]
        )
        # The first CEO's deal is from the first run: the others were lifted
        # over the threshold without firing it.
        self.assertEqual(deals.partner_id, self.ceos[0])
        self.assertIn("ROC AUC", self.model.message_ids[0].body)

    def test_publish_firing_thresholds(self):
        preview = self.preview(self.draft({self.rule_x.id: 30}))
        preview.action_publish()
        self.assertEqual(len(self.model.version_ids), 1)
        self.assertEqual(self.score_of(self.model, self.ceos[1]), 30.0)
        self.recompute()
        deals = self.env["crm.lead"].search(
            [("lead_scoring_threshold_id", "in", self.model.threshold_ids.ids)]
        )
        # The first CEO was over 25 before: its deal came from the first run.
        self.assertEqual(deals.partner_id, self.ceos)
        self.assertFalse(preview.exists(), "a preview goes with its draft: no second publish")

    def test_managers_only(self):
        draft = self.draft({self.rule_x.id: 30})
        Preview = self.env["lead.scoring.preview"].with_user(self.salesman)
        with self.assertRaises(AccessError):
            Preview._open_for(draft.with_user(self.salesman))
        with self.assertRaises(AccessError):
            Preview.create({"draft_id": draft.id, "model_id": self.model.id})
        with self.assertRaises(UserError):
            self.preview(self.model)  # not a draft

    def test_query_count_does_not_grow_with_the_population(self):
        draft = self.draft({self.rule_x.id: 30})

        def count():
            self.env.invalidate_all()
            queries = self.env.cr.sql_log_count
            preview = self.preview(draft)
            return preview, self.env.cr.sql_log_count - queries

        count()  # caches out of the way
        small, first = count()
        self.env["res.partner"].create(
            [
                {"name": f"More CEO {i}", "ref": f"PRV-M{i:03}", "function": "CEO"}
                for i in range(180)
            ]
        )
        self.recompute()
        large, second = count()
        self.assertEqual((small.records_up, large.records_up), (10, 190))
        self.assertEqual(second, first)
        self.assertLess(first, 60)
