import threading
import time
from unittest.mock import patch

from odoo.exceptions import AccessError, RedirectWarning, UserError, ValidationError
from odoo.sql_db import db_connect
from odoo.tests import new_test_user, tagged

from ..engine import RECOMPUTE_LOCK_KEY
from ..models import lead_scoring_model
from ..models.lead_scoring_model import LeadScoringModel
from .common import LeadScoringCase

NL = "[('country_id.code', '=', 'NL')]"
BE = "[('country_id.code', '=', 'BE')]"
US = "[('country_id.code', '=', 'US')]"


@tagged("post_install", "-at_install")
class TestModelVersions(LeadScoringCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ls_manager = new_test_user(
            cls.env,
            login="ls_versions_manager",
            groups="base.group_user,lead_scoring.group_lead_scoring_manager",
            name="Scoring Manager",
        )
        cls.profiel = cls.create_model("Profiel", rules=[("Nederland", NL, 10), ("België", BE, 5)])
        cls.nl_rule, cls.be_rule = cls.profiel.rule_ids.sorted("id")
        cls.threshold = cls.env["lead.scoring.threshold"].create(
            {
                "model_id": cls.profiel.id,
                "name": "Sales ready",
                "score": 15,
                "action": "create_deal",
            }
        )
        cls.env["lead.scoring.band"].create(
            [
                {"model_id": cls.profiel.id, "name": "Cold", "min_score": 0},
                {"model_id": cls.profiel.id, "name": "Warm", "min_score": 8},
            ]
        )
        cls.ScoringModel._cron_recompute_scores()

    def setUp(self):
        super().setUp()
        self.live = self.profiel.with_user(self.ls_manager)

    def deals_of(self, partner):
        return (
            self.env["crm.lead"]
            .with_context(active_test=False)
            .search(
                [
                    ("lead_scoring_threshold_id", "=", self.threshold.id),
                    ("partner_id", "=", partner.id),
                ]
            )
        )

    def draft_rule(self, draft, live_rule):
        return draft.rule_ids.filtered(lambda r: r.origin_rule_id == live_rule)

    def test_create_draft_once(self):
        self.assertEqual(self.score_of(self.profiel, self.anna), 10.0)
        action = self.live.action_create_draft()
        draft = self.ScoringModel.with_user(self.ls_manager).browse(action["res_id"])
        self.assertEqual(action["res_model"], "lead.scoring.model")
        self.assertEqual(draft.state, "draft")
        self.assertEqual(draft.live_model_id, self.profiel)
        self.assertEqual(self.profiel.draft_ids, draft)
        self.assertEqual(self.profiel.draft_count, 1)
        self.assertEqual(
            sorted((r.name, r.points, r.domain, r.origin_rule_id.id) for r in draft.rule_ids),
            sorted((r.name, r.points, r.domain, r.id) for r in (self.nl_rule, self.be_rule)),
        )
        self.assertEqual(draft.threshold_ids.mapped("score"), [15.0])
        self.assertEqual(sorted(draft.band_ids.mapped("name")), ["Cold", "Warm"])
        self.assertFalse(draft.automation_ids)
        self.assertEqual(draft.target, "contact")
        # A second call opens the same draft.
        self.assertEqual(self.live.action_create_draft()["res_id"], draft.id)
        self.assertEqual(self.live._create_draft(), draft)
        # The live model is untouched.
        self.assertEqual(self.profiel.state, "live")
        self.assertEqual(self.profiel.version, 1)
        self.assertEqual(len(self.profiel.rule_ids), 2)

    def test_draft_scores_nothing(self):
        draft = self.live._create_draft()
        draft.write(
            {
                "sequence": 1,  # before the live model: still never primary
                "rule_ids": [(0, 0, {"name": "Verenigde Staten", "domain": US, "points": 7})],
            }
        )
        self.draft_rule(draft, self.nl_rule).points = 30
        dirk = self.env["res.partner"].create({"name": "Dirk", "country_id": self.us.id})
        eva = self.env["res.partner"].create({"name": "Eva", "country_id": self.nl.id})
        self.recompute()
        self.live.action_recompute()
        with self.assertRaises(UserError):
            draft.action_recompute()
        # An "Adjust score" action naming the draft (set up behind the UI) adds nothing.
        action = self.env["ir.actions.server"].create(
            {
                "name": "Bezocht",
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "state": "lead_score",
                "score_model_id": draft.id,
                "score_points": 50,
            }
        )
        action.with_context(active_model="res.partner", active_ids=self.anna.ids).run()
        with self.assertRaises(ValidationError), self.env.cr.savepoint():
            self.Point.with_user(self.ls_manager).create(
                {"model_id": draft.id, "partner_id": self.anna.id, "points": 3, "reason": "x"}
            )
        self.assertFalse(self.Point.search([("model_id", "=", draft.id)]))
        self.assertFalse(self.Score.search([("model_id", "=", draft.id)]))
        self.assertFalse(
            self.env["lead.scoring.threshold.crossing"].search(
                [("threshold_id", "in", draft.threshold_ids.ids)]
            )
        )
        self.assertEqual(self.score_of(self.profiel, eva), 10.0)
        self.assertEqual(self.score_of(self.profiel, dirk), 0.0)
        self.assertEqual(self.anna.contact_score, 10.0, "the live model stays primary")
        self.assertEqual(eva.contact_score, 10.0)
        self.assertNotIn(
            draft.id, [c[0] for c in self.env["res.partner"]._lead_scoring_primary_candidates()]
        )

    def test_publish_changes_points_at_once(self):
        draft = self.live._create_draft()
        self.draft_rule(draft, self.nl_rule).points = 12
        version = draft._publish_draft(fire_thresholds=True)
        self.assertFalse(draft.exists(), "the draft is gone")
        self.assertEqual(self.profiel.version, 2)
        self.assertEqual(self.nl_rule.points, 12.0)
        # Right when the call returns: the score, the band, the contact's score.
        self.assertEqual(self.score_of(self.profiel, self.anna), 12.0)
        self.assertEqual(self.anna.contact_score, 12.0)
        self.assertEqual(self.anna.contact_band_id.name, "Warm")
        self.assertEqual(self.score_of(self.profiel, self.bram), 5.0)
        lines = self.lines_of(self.profiel, self.anna)
        self.assertEqual(lines.mapped("points"), [10.0, 12.0])
        self.assertTrue(lines[0].closed_date)
        self.assertFalse(lines[1].closed_date)
        self.assertIn("v2", lines[1].reason)
        self.assertEqual(lines[1].rule_id, self.nl_rule)
        # The configuration before the change.
        self.assertEqual((version.number, version.name), (1, "v1"))
        self.assertEqual(version.model_id, self.profiel)
        self.assertEqual(version.user_id, self.ls_manager)
        self.assertTrue(version.date)
        points = {rule["name"]: rule["points"] for rule in version.config["rules"]}
        self.assertEqual(points, {"Nederland": 10.0, "België": 5.0})
        self.assertEqual(version.config["domain"], "[]")
        self.assertEqual(len(version.config["thresholds"]), 1)
        self.assertEqual(len(version.config["bands"]), 2)
        self.assertIn("Nederland", version.note)
        self.assertIn("10 → 12", version.note)
        message = self.profiel.message_ids[:1]
        self.assertIn("v2", message.body)
        self.assertIn("10 → 12", message.body)

    def test_removed_rule_archived_and_new_rule_scores(self):
        draft = self.live._create_draft()
        self.draft_rule(draft, self.be_rule).unlink()
        draft.write({"rule_ids": [(0, 0, {"name": "Verenigde Staten", "domain": US, "points": 3})]})
        self.assertEqual(self.score_of(self.profiel, self.bram), 5.0)
        draft._publish_draft()
        self.assertFalse(self.be_rule.active)
        self.assertTrue(self.be_rule.exists(), "archived, not deleted: the history stays")
        be_lines = self.lines_of(self.profiel, self.bram)
        self.assertTrue(be_lines)
        self.assertTrue(all(be_lines.mapped("closed_date")))
        self.assertEqual(self.score_of(self.profiel, self.bram), 0.0)
        self.assertEqual(self.bram.contact_score, 0.0)
        self.assertEqual(self.score_of(self.profiel, self.carl), 3.0)
        self.assertEqual(self.carl.contact_score, 3.0)
        us_rule = self.profiel.rule_ids.filtered(lambda r: r.name == "Verenigde Staten")
        self.assertEqual(us_rule.points, 3.0)
        self.assertEqual(self.lines_of(self.profiel, self.carl).rule_id, us_rule)
        self.assertEqual(self.score_of(self.profiel, self.anna), 10.0, "unchanged rule untouched")
        self.assertEqual(len(self.lines_of(self.profiel, self.anna)), 1)
        note = self.profiel.version_ids.note
        self.assertIn("België", note)
        self.assertIn("Verenigde Staten", note)

    def test_publish_without_firing_thresholds(self):
        draft = self.live._create_draft()
        self.draft_rule(draft, self.nl_rule).points = 20
        draft._publish_draft(fire_thresholds=False)
        self.assertEqual(self.score_of(self.profiel, self.anna), 20.0)
        self.assertFalse(self.deals_of(self.anna))
        crossing = self.env["lead.scoring.threshold.crossing"].search(
            [("threshold_id", "=", self.threshold.id), ("res_id", "=", self.anna.id)]
        )
        self.assertTrue(crossing, "marked as crossed, without acting")
        self.recompute()
        self.recompute()
        self.assertFalse(self.deals_of(self.anna), "nor does the next run fire it")
        # Re-armed by falling back and crossing again, it fires as usual.
        self.Point.with_user(self.ls_manager).create(
            {"model_id": self.profiel.id, "partner_id": self.anna.id, "points": -10, "reason": "a"}
        )
        self.Point.with_user(self.ls_manager).create(
            {"model_id": self.profiel.id, "partner_id": self.anna.id, "points": 10, "reason": "b"}
        )
        self.assertEqual(len(self.deals_of(self.anna)), 1)

    def test_publish_firing_thresholds_on_next_run(self):
        draft = self.live._create_draft()
        self.draft_rule(draft, self.nl_rule).points = 20
        draft._publish_draft(fire_thresholds=True)
        self.assertFalse(self.deals_of(self.anna), "the publish itself acts on nothing")
        self.recompute()
        self.assertEqual(len(self.deals_of(self.anna)), 1, "the next run fires as usual")
        self.assertFalse(self.deals_of(self.bram))

    def test_restore_version_then_publish(self):
        draft = self.live._create_draft()
        self.draft_rule(draft, self.nl_rule).points = 20
        self.draft_rule(draft, self.be_rule).unlink()
        draft._publish_draft(fire_thresholds=False)
        self.assertEqual(self.score_of(self.profiel, self.bram), 0.0)
        v1 = self.profiel.version_ids
        self.assertEqual(v1.name, "v1")
        action = v1.with_user(self.ls_manager).action_restore_draft()
        restored = self.ScoringModel.with_user(self.ls_manager).browse(action["res_id"])
        self.assertEqual(restored.live_model_id, self.profiel)
        self.assertEqual(
            sorted((r.origin_rule_id.id, r.points) for r in restored.rule_ids),
            sorted([(self.nl_rule.id, 10.0), (self.be_rule.id, 5.0)]),
        )
        # A second restore while the draft is pending offers to open it.
        with self.assertRaises(RedirectWarning):
            v1.with_user(self.ls_manager).action_restore_draft()
        restored._publish_draft(fire_thresholds=False)
        self.assertEqual(self.profiel.version, 3)
        self.assertEqual(self.profiel.version_ids.mapped("name"), ["v2", "v1"])
        self.assertEqual((self.nl_rule.points, self.be_rule.points), (10.0, 5.0))
        self.assertTrue(self.be_rule.active, "the same rule back, not a new one")
        self.assertEqual(len(self.profiel.rule_ids), 2)
        self.assertEqual(self.score_of(self.profiel, self.anna), 10.0)
        self.assertEqual(self.score_of(self.profiel, self.bram), 5.0)
        self.assertEqual((self.anna.contact_score, self.bram.contact_score), (10.0, 5.0))
        v2 = self.profiel.version_ids[0]
        self.assertEqual({r["name"]: r["points"] for r in v2.config["rules"]}, {"Nederland": 20.0})

    def test_salesman_cannot_draft_publish_or_see_drafts(self):
        draft = self.live._create_draft()
        live = self.profiel.with_user(self.salesman)
        with self.assertRaises(AccessError):
            live.action_create_draft()
        with self.assertRaises(AccessError):
            draft.with_user(self.salesman)._publish_draft()
        with self.assertRaises(AccessError):
            draft.with_user(self.salesman).read(["name"])
        draft_rules = draft.rule_ids
        self.assertEqual(len(draft_rules), 2)
        with self.assertRaises(AccessError):
            draft_rules.with_user(self.salesman).read(["points"])
        self.assertFalse(
            self.env["lead.scoring.rule"]
            .with_user(self.salesman)
            .search([("id", "in", draft_rules.ids)])
        )
        self.assertFalse(
            self.env["lead.scoring.threshold"]
            .with_user(self.salesman)
            .search([("model_id", "=", draft.id)])
        )
        models = self.ScoringModel.with_user(self.salesman).search([])
        self.assertIn(self.profiel, models)
        self.assertNotIn(draft, models)
        self.assertEqual(live.draft_count, 0)
        # Versions: read-only for the sales team.
        draft._publish_draft()
        version = live.version_ids
        self.assertEqual(version.name, "v1")
        with self.assertRaises(AccessError):
            version.with_user(self.salesman).action_restore_draft()
        with self.assertRaises(AccessError):
            version.with_user(self.salesman).note = "x"
        # The manager sees the draft among the models (the "Drafts" filter).
        draft = self.live._create_draft()
        self.assertIn(
            draft, self.ScoringModel.with_user(self.ls_manager).search([("state", "=", "draft")])
        )

    def test_publish_holds_the_recompute_lock(self):
        draft = self.live._create_draft()
        self.draft_rule(draft, self.nl_rule).points = 12
        seen = []
        apply_rules = LeadScoringModel._apply_draft_rules

        def while_publishing(model, *args, **kwargs):
            with db_connect(self.env.cr.dbname).cursor() as other:
                other.execute("SELECT pg_try_advisory_lock(%s)", [RECOMPUTE_LOCK_KEY])
                seen.append(other.fetchone()[0])
            return apply_rules(model, *args, **kwargs)

        with patch.object(LeadScoringModel, "_apply_draft_rules", while_publishing):
            draft._publish_draft()
        self.assertEqual(seen, [False], "a run started meanwhile would wait")
        with db_connect(self.env.cr.dbname).cursor() as other:
            other.execute("SELECT pg_try_advisory_lock(%s)", [RECOMPUTE_LOCK_KEY])
            self.assertTrue(other.fetchone()[0], "released after the publish")
            other.execute("SELECT pg_advisory_unlock(%s)", [RECOMPUTE_LOCK_KEY])

    def test_publish_waits_for_a_running_recompute(self):
        """A publish started while a run holds the lock waits for it to end;
        past PUBLISH_LOCK_WAIT it gives up and changes nothing."""
        draft = self.live._create_draft()
        self.draft_rule(draft, self.nl_rule).points = 12
        release = None
        with db_connect(self.env.cr.dbname).cursor() as other:
            other.execute("SELECT pg_advisory_lock(%s)", [RECOMPUTE_LOCK_KEY])
            try:
                with (
                    patch.object(lead_scoring_model, "PUBLISH_LOCK_WAIT", 0),
                    self.assertRaises(UserError),
                ):
                    draft._publish_draft()
                self.assertTrue(draft.exists())
                self.assertEqual(self.profiel.version, 1)
                # The run ends a second later: the publish waited for it.
                release = threading.Timer(
                    1.0,
                    other.execute,
                    ["SELECT pg_advisory_unlock(%s)", [RECOMPUTE_LOCK_KEY]],
                )
                release.start()
                started = time.monotonic()
                draft._publish_draft()
                self.assertGreaterEqual(time.monotonic() - started, 0.9)
            finally:
                if release:
                    release.join()
        self.assertFalse(draft.exists())
        self.assertEqual(self.profiel.version, 2)
