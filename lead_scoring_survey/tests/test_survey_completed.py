from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.survey.tests.common import TestSurveyCommon


@tagged("post_install", "-at_install")
class TestSurveyCompleted(TestSurveyCommon, HttpCase):
    """A participant fills in a survey through the survey pages, as on the
    website: a completed participation scores the participant's contact."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.marketer = new_test_user(
            cls.env,
            login="ls_marketer",
            name="Marketeer",
            groups="sales_team.group_sale_manager,survey.group_survey_user",
        )
        cls.engagement = (
            cls.env["lead.scoring.model"]
            .with_user(cls.marketer)
            .create({"name": "Betrokkenheid", "target": "contact"})
        )
        Survey = cls.env["survey.survey"].with_user(cls.survey_manager)
        cls.intake = Survey.create(
            {
                "title": "Intake warmtepomp",
                "access_mode": "public",
                "users_login_required": False,
                "questions_layout": "page_per_section",
                "scoring_type": "scoring_without_answers",
            }
        )
        cls.page = cls.env["survey.question"].create(
            {
                "is_page": True,
                "question_type": False,
                "sequence": 1,
                "title": "Uw plannen",
                "survey_id": cls.intake.id,
            }
        )
        cls.question = cls._add_question(
            cls,
            cls.page,
            "Wanneer wilt u een warmtepomp?",
            "simple_choice",
            survey_id=cls.intake.id,
            labels=[
                {"value": "Binnen drie maanden", "answer_score": 10},
                {"value": "Later", "answer_score": 2},
            ],
        )
        cls.soon, cls.later = cls.question.suggested_answer_ids
        cls.feedback = Survey.create({"title": "Tevredenheid", "access_mode": "public"})

    def add_line(self, points, name="Enquête ingevuld", **values):
        """An Automations-tab line, created by the marketer as in the form."""
        return (
            self.env["lead.scoring.automation"]
            .with_user(self.marketer)
            .create(
                {
                    "model_id": self.engagement.id,
                    "name": name,
                    "trigger": "survey_completed",
                    "points": points,
                    **values,
                }
            )
        )

    def fill_in(self, answer, choice):
        """The participant of ``answer`` opens the survey and submits its page."""
        survey = answer.survey_id
        response = self.url_open(
            f"/survey/start/{survey.access_token}?answer_token={answer.access_token}"
        )
        self.assertEqual(response.status_code, 200)
        response = self._access_page(survey, answer.access_token)
        csrf_token = self._find_csrf_token(response.text)
        self._access_begin(survey, answer.access_token)
        post_data = {
            "page_id": self.page.id,
            str(self.question.id): str(choice.id),
            "csrf_token": csrf_token,
            "token": answer.access_token,
            "button_submit": "next",
        }
        response = self._access_submit(survey, answer.access_token, post_data)
        self.assertEqual(response.status_code, 200)
        answer.invalidate_recordset()
        self.assertEqual(answer.state, "done")

    def lines_of(self, partner):
        return self.env["lead.scoring.point"].search(
            [("model_id", "=", self.engagement.id), ("partner_id", "=", partner.id)], order="id"
        )

    def test_portal_participant_scores_once(self):
        line = self.add_line(10, "Intake-enquête ingevuld ≥ 60%", survey_min_percentage=60)
        self.assertEqual(line.trigger_model_id.model, "survey.user_input")
        self.authenticate("user_portal", "user_portal")
        response = self._access_start(self.intake)
        self.assertEqual(response.status_code, 200)
        answer = self.env["survey.user_input"].search([("survey_id", "=", self.intake.id)])
        self.assertEqual(answer.partner_id, self.user_portal.partner_id)
        self.fill_in(answer, self.soon)

        portal_partner = self.user_portal.partner_id
        self.assertRecordValues(
            self.lines_of(portal_partner),
            [{"points": 10.0, "reason": "Intake-enquête ingevuld ≥ 60%: Intake warmtepomp (100%)"}],
        )
        # Done is done: marking it done again scores nothing.
        answer.sudo()._mark_done()
        answer.sudo().write({"state": "in_progress"})
        answer.sudo()._mark_done()
        self.assertEqual(len(self.lines_of(portal_partner)), 1)

    def test_public_participant_invited_by_email_and_minimum_score(self):
        self.add_line(10, "Intake ≥ 60%", survey_min_percentage=60)
        self.add_line(2, "Enquête ingevuld")
        answer = self.intake.with_user(self.survey_manager)._create_answer(
            email="Customer@Example.com", check_attempts=False
        )
        self.assertFalse(answer.partner_id)
        self.fill_in(answer, self.later)  # 20%: below the minimum
        self.assertRecordValues(
            self.lines_of(self.customer),
            [{"points": 2.0, "reason": "Enquête ingevuld: Intake warmtepomp (20%)"}],
        )

    def test_survey_filter_and_unknown_participant(self):
        self.add_line(5, survey_ids=[(6, 0, self.feedback.ids)])
        answer = self.intake.with_user(self.survey_manager)._create_answer(
            partner=self.customer, check_attempts=False
        )
        self.fill_in(answer, self.soon)
        self.assertFalse(self.lines_of(self.customer), "another survey")
        self.add_line(5)
        answer = self.intake.with_user(self.survey_manager)._create_answer(
            email="onbekend@example.org", check_attempts=False
        )
        partners = self.env["res.partner"].search_count([])
        self.fill_in(answer, self.soon)
        self.assertEqual(self.env["res.partner"].search_count([]), partners, "none created")
        self.assertFalse(self.env["lead.scoring.point"].search([]))
