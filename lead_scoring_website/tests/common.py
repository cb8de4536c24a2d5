import re
from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, new_test_user

from odoo.addons.base.tests.common import DISABLED_MAIL_CONTEXT

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


class LeadScoringWebsiteCase(HttpCase):
    """Real page requests on tracked website pages, and the scoring set up by a
    lead-scoring manager (no Settings rights)."""

    # Page views are recorded by read-write requests only.
    readonly_enabled = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, **DISABLED_MAIL_CONTEXT))
        cls.manager = new_test_user(
            cls.env, login="lsw_manager", groups="sales_team.group_sale_manager"
        )
        cls.salesman = new_test_user(
            cls.env, login="lsw_salesman", groups="sales_team.group_sale_salesman"
        )
        cls.portal = new_test_user(
            cls.env,
            login="lsw_portal",
            groups="base.group_portal",
            name="Pieter Portaal",
            email="pieter@example.be",
        )
        cls.anna = cls.env["res.partner"].create({"name": "Anna", "email": "anna@example.nl"})
        cls.products = [cls._tracked_page(f"/shop/product-{number}") for number in range(1, 6)]
        cls.about = cls._tracked_page("/over-ons")
        # Only this test's scoring (demo models have website lines too).
        cls.env["lead.scoring.model"].search([]).active = False
        managed = cls.env(user=cls.manager)
        cls.engagement = managed["lead.scoring.model"].create(
            {"name": "Betrokkenheid", "target": "contact"}
        )
        cls.deal_model = managed["lead.scoring.model"].create(
            {"name": "Deal interest", "target": "deal"}
        )

    @classmethod
    def _tracked_page(cls, url):
        key = "lead_scoring_website.test_page_" + url.strip("/").replace("/", "_")
        view = cls.env["ir.ui.view"].create(
            {
                "name": url,
                "type": "qweb",
                "key": key,
                "track": True,
                "arch": f'<t t-name="{key}"><t t-call="website.layout">'
                f"<div>Page {url}</div></t></t>",
            }
        )
        return cls.env["website.page"].create(
            {"view_id": view.id, "url": url, "website_published": True}
        )

    # ------------------------------------------------------------------

    def add_line(self, scoring_model, name, trigger="website_page_visit", **values):
        """A line of the Automations tab, created by the manager. It counts the
        views of the past year: the views of a test are dated when its
        transaction started, before the line was created."""
        if trigger == "website_page_visit":
            values.setdefault("url_pattern", "/shop/%")
            values.setdefault("views_since", fields.Datetime.now() - timedelta(days=365))
        return (
            self.env(user=self.manager)["lead.scoring.automation"]
            .create(
                {
                    "model_id": scoring_model.id,
                    "name": name,
                    "trigger": trigger,
                    "points": 1,
                    **values,
                }
            )
            .sudo()
        )

    def visit(self, path, score=True):
        """View ``path`` as the visitor; ``score``: then run the batch that
        credits the recorded views (the scheduled action does every minute)."""
        response = self.url_open(path)
        self.assertEqual(response.status_code, 200, path)
        self.env.invalidate_all()
        if score:
            self.score_hits()
        return response

    def score_hits(self):
        self.env.flush_all()
        self.env["lead.scoring.website.hit"].sudo()._score_hits()
        self.env.invalidate_all()

    def login(self, user):
        """Log in through the real login form, as a visitor does (Odoo then
        links the anonymous visitor to the user's partner)."""
        page = self.url_open("/web/login")
        response = self.url_open(
            "/web/login",
            data={
                "login": user.login,
                "password": user.login,
                "csrf_token": CSRF_INPUT.search(page.text)[1],
            },
        )
        self.assertEqual(response.status_code, 200)
        self.env.invalidate_all()

    def logout(self):
        self.url_open("/web/session/logout")
        self.env.invalidate_all()

    def send_contact_form(self, email, name="Petra Prospect"):
        """Post the website contact form (the real route, with the visitor's
        session) and return the new lead."""
        response = self.url_open(
            "/website/form/crm.lead",
            data={
                "contact_name": name,
                "email_from": email,
                "name": "Vraag over de stoelen",
                "description": "Graag een offerte.",
            },
        )
        self.assertEqual(response.status_code, 200)
        self.env.invalidate_all()
        lead_id = response.json().get("id")
        self.assertTrue(lead_id, response.text)
        return self.env["crm.lead"].browse(lead_id)

    def last_visitor(self):
        return self.env["website.visitor"].search([], order="id desc", limit=1)

    def track_of(self, visitor, page):
        return visitor.website_track_ids.filtered(lambda track: track.page_id == page)

    def add_past_view(self, visitor, page, days_ago):
        """A view ``visitor`` made ``days_ago`` days ago (the database dates
        live views itself)."""
        return self.env["website.track"].create(
            {
                "visitor_id": visitor.id,
                "page_id": page.id,
                "url": self.base_url() + page.url,
                "visit_datetime": fields.Datetime.now() - timedelta(days=days_ago),
            }
        )

    def lines_of(self, scoring_model, record, line=None):
        column = scoring_model._target_column()
        domain = [("model_id", "=", scoring_model.id), (column, "=", record.id)]
        if line:
            domain.append(("action_id", "=", line.action_id.id))
        return self.env["lead.scoring.point"].search(domain, order="date, id")

    def score_of(self, scoring_model, record):
        column = scoring_model._target_column()
        score = self.env["lead.scoring.score"].search(
            [("model_id", "=", scoring_model.id), (column, "=", record.id)]
        )
        return score.score
