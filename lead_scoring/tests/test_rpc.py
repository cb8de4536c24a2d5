from xmlrpc.client import Fault

from odoo.tests import get_db_name, new_test_user, tagged

from odoo.addons.base.controllers.rpc import RPC_FAULT_CODE_ACCESS_ERROR

from .common import LeadScoringHttpCase
from .test_rule_engine import NL_RULE


@tagged("post_install", "-at_install")
class TestRpcAccess(LeadScoringHttpCase):
    """What outside callers get through XML-RPC, by role."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.profiel = cls.create_model(rules=[NL_RULE])
        company_b = cls.env["res.company"].create({"name": "Company B"})
        cls.model_b = cls.create_model(
            "B only", rules=[("All", "[]", 1.0)], company_id=company_b.id
        )
        cls.env["res.partner"].create({"name": "B partner", "company_id": company_b.id})
        cls.ScoringModel._cron_recompute_scores()

    def call(self, login, model, method, *args, **kwargs):
        uid = self.xmlrpc_common.authenticate(get_db_name(), login, login, {})
        self.assertTrue(uid, f"{login} can log in")
        return self.xmlrpc_object.execute_kw(
            get_db_name(), uid, login, model, method, list(args), kwargs
        )

    def test_salesman_reads_own_company_scores_only(self):
        scores = self.call(
            "ls_salesman", "lead.scoring.score", "search_read", [], fields=["model_id", "score"]
        )
        self.assertIn(self.profiel.id, {s["model_id"][0] for s in scores})
        self.assertNotIn(self.model_b.id, {s["model_id"][0] for s in scores})
        partner = self.call(
            "ls_salesman", "res.partner", "read", [self.anna.id], fields=["contact_score"]
        )
        self.assertEqual(partner[0]["contact_score"], 20.0)

    def test_salesman_cannot_configure_or_write_the_ledger(self):
        attempts = [
            (
                "lead.scoring.rule",
                "create",
                [{"model_id": self.profiel.id, "name": "x", "points": 99}],
            ),
            (
                "lead.scoring.point",
                "create",
                [
                    {
                        "model_id": self.profiel.id,
                        "partner_id": self.anna.id,
                        "points": 99,
                        "reason": "x",
                    }
                ],
            ),
            (
                "lead.scoring.threshold",
                "create",
                [{"model_id": self.profiel.id, "name": "x", "score": 1}],
            ),
            ("lead.scoring.model", "action_recompute", [[self.profiel.id]]),
            ("res.partner", "write", [[self.anna.id], {"contact_score": 1000}]),
        ]
        for model, method, args in attempts:
            with self.subTest(model=model, method=method), self.assertRaises(Fault) as caught:
                self.call("ls_salesman", model, method, *args)
            self.assertEqual(
                caught.exception.faultCode,
                RPC_FAULT_CODE_ACCESS_ERROR,
                caught.exception.faultString,
            )
        self.assertEqual(self.anna.contact_score, 20.0)

    def test_portal_gets_nothing(self):
        for model in ("lead.scoring.score", "lead.scoring.point", "lead.scoring.model"):
            with self.subTest(model=model), self.assertRaises(Fault) as caught:
                self.call("ls_portal", model, "search_read", [])
            self.assertEqual(caught.exception.faultCode, RPC_FAULT_CODE_ACCESS_ERROR)
        with self.assertRaises(Fault) as caught:
            self.call(
                "ls_portal",
                "res.partner",
                "read",
                [self.portal.partner_id.id],
                fields=["contact_score"],
            )
        self.assertEqual(caught.exception.faultCode, RPC_FAULT_CODE_ACCESS_ERROR)

    def test_salesman_cannot_run_adjust_score_by_hand(self):
        action = self.env["ir.actions.server"].create(
            {
                "name": "E-mail beantwoord",
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "state": "lead_score",
                "score_model_id": self.profiel.id,
                "score_points": 10.0,
            }
        )
        prospect = self.env["res.partner"].with_user(self.salesman).create({"name": "Prospect"})
        context = {"active_model": "res.partner", "active_ids": prospect.ids}
        with self.assertRaises(Fault) as caught:
            self.call("ls_salesman", "ir.actions.server", "run", [action.id], context=context)
        self.assertEqual(caught.exception.faultCode, RPC_FAULT_CODE_ACCESS_ERROR)
        self.assertFalse(self.Point.search([("partner_id", "=", prospect.id)]))
        self.call("ls_manager", "ir.actions.server", "run", [action.id], context=context)
        self.assertEqual(self.score_of(self.profiel, prospect), 10.0)

    def test_admin_creates_a_user(self):
        new_test_user(
            self.env, login="ls_admin", groups="base.group_system,base.group_partner_manager"
        )
        user_id = self.call("ls_admin", "res.users", "create", {"name": "Nieuw", "login": "nieuw"})
        self.assertTrue(self.env["res.users"].browse(user_id).partner_id)
