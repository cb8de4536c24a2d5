from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestUi(HttpCase):
    """The Automations tab, driven in headless Chromium by a marketer."""

    def test_marketer_adds_an_email_opened_line(self):
        marketer = new_test_user(
            self.env,
            login="ls_mailing_marketer",
            groups="lead_scoring.group_lead_scoring_manager,mass_mailing.group_mass_mailing_user",
        )
        self.assertFalse(marketer.has_group("base.group_system"))
        engagement = self.env["lead.scoring.model"].create(
            {"name": "Betrokkenheid", "target": "contact"}
        )
        self.start_tour(
            f"/odoo/action-lead_scoring.lead_scoring_model_action/{engagement.id}",
            "lead_scoring_mass_mailing_open_tour",
            login=marketer.login,
        )
        line = engagement.automation_ids
        self.assertRecordValues(
            line,
            [
                {
                    "name": "Betrokkenheid +5 per geopende e-mail",
                    "trigger": "mailing_open",
                    "points": 5.0,
                    "expire_after": 2,
                    "expire_unit": "months",
                    "active": True,
                }
            ],
        )
        self.assertEqual(line.trigger_model_id.model, "mailing.trace")
        self.assertFalse(line.automation_id)
        self.assertRecordValues(
            line.action_id,
            [
                {
                    "state": "lead_score",
                    "model_id": self.env["ir.model"]._get_id("mailing.trace"),
                    "score_model_id": engagement.id,
                    "score_points": 5.0,
                    "score_expire_after": 2,
                    "score_expire_unit": "months",
                }
            ],
        )
