from dateutil.relativedelta import relativedelta

from odoo.tests import tagged

from .common import LeadScoringWebsiteCase


@tagged("post_install", "-at_install")
class TestKnownVisitor(LeadScoringWebsiteCase):
    """Anonymous views count once the visitor becomes known: the contact form,
    a login; exactly once, dated at the visit, within the points' expiry."""

    def test_lead_form_credits_anonymous_views_once(self):
        product_line = self.add_line(self.engagement, "Product page visited", expire_after=2)
        form_line = self.add_line(
            self.engagement,
            "Left an e-mail on the contact form",
            trigger="website_lead_form",
            filter_domain="[('email_from', '!=', False)]",
            points=5,
        )
        self.visit("/shop/product-1")
        self.visit("/shop/product-2")
        self.visit("/over-ons")
        visitor = self.last_visitor()
        recent = self.add_past_view(visitor, self.products[2], 10)
        self.add_past_view(visitor, self.products[3], 70)  # older than the 2 months' expiry
        self.assertFalse(
            self.env["lead.scoring.point"].search([("model_id", "=", self.engagement.id)])
        )

        lead = self.send_contact_form("petra@example.nl")
        petra = lead.partner_id
        self.assertEqual(petra.email, "petra@example.nl", "the prospect became a contact")
        self.assertEqual(visitor.lead_ids, lead)
        views = self.lines_of(self.engagement, petra, product_line)
        self.assertEqual(
            views.mapped("reason"),
            [
                "Product page visited: /shop/product-3",
                "Product page visited: /shop/product-1",
                "Product page visited: /shop/product-2",
            ],
        )
        self.assertEqual(views[0].date, recent.visit_datetime)
        self.assertEqual(views[1].date, self.track_of(visitor, self.products[0]).visit_datetime)
        self.assertEqual(
            views.mapped("expire_date"), [d + relativedelta(months=2) for d in views.mapped("date")]
        )
        form_points = self.lines_of(self.engagement, petra, form_line)
        self.assertEqual(form_points.points, 5.0)
        self.assertEqual(
            form_points.reason, f"Left an e-mail on the contact form: {lead.display_name}"
        )
        self.assertEqual(self.score_of(self.engagement, petra), 8.0)

        # Again: a second lead and 5 points more, no view counted twice.
        partners = self.env["res.partner"].search_count([])
        self.send_contact_form("petra@example.nl")
        self.assertEqual(self.env["res.partner"].search_count([]), partners, "found by e-mail")
        self.assertEqual(len(self.lines_of(self.engagement, petra, product_line)), 3)
        self.assertEqual(self.score_of(self.engagement, petra), 13.0)

        # The visitor is known now: its next product page counts at once.
        self.visit("/shop/product-5")
        self.assertEqual(len(self.lines_of(self.engagement, petra, product_line)), 4)
        self.assertEqual(self.score_of(self.engagement, petra), 14.0)

    def test_login_credits_anonymous_views_once(self):
        product_line = self.add_line(self.engagement, "Product page visited")
        pieter = self.portal.partner_id
        self.visit("/shop/product-1")
        self.visit("/shop/product-2")
        self.assertFalse(self.lines_of(self.engagement, pieter, product_line))

        self.login(self.portal)  # the anonymous visitor becomes Pieter's
        self.assertEqual(len(self.lines_of(self.engagement, pieter, product_line)), 2)
        visitor = self.env["website.visitor"].search([("partner_id", "=", pieter.id)])
        self.assertEqual(len(visitor.website_track_ids), 2)

        # Another anonymous session, then a login: merged into Pieter's visitor.
        self.logout()
        self.visit("/shop/product-3")
        anonymous = self.last_visitor()
        self.assertNotEqual(anonymous, visitor)
        self.login(self.portal)
        self.assertFalse(anonymous.exists(), "Odoo merged it into Pieter's visitor")
        self.assertEqual(len(visitor.website_track_ids), 3)
        lines = self.lines_of(self.engagement, pieter, product_line)
        self.assertEqual(
            sorted(lines.mapped("reason")),
            [f"Product page visited: /shop/product-{number}" for number in (1, 2, 3)],
        )
        # And once more, from a session that saw no product page.
        self.logout()
        self.visit("/over-ons")
        self.login(self.portal)
        self.assertEqual(len(visitor.website_track_ids), 4)
        self.assertEqual(len(self.lines_of(self.engagement, pieter, product_line)), 3)
        self.assertEqual(self.score_of(self.engagement, pieter), 3.0)

    def test_lead_form_of_a_known_e_mail_scores_that_contact(self):
        form_line = self.add_line(
            self.engagement, "Contactformulier", trigger="website_lead_form", points=5
        )
        self.visit("/shop/product-1")
        partners = self.env["res.partner"].search_count([])
        lead = self.send_contact_form("anna@example.nl", name="Anna")
        self.assertEqual(self.env["res.partner"].search_count([]), partners, "no duplicate")
        self.assertFalse(lead.partner_id, "Odoo does not link a public form to a contact")
        self.assertEqual(self.lines_of(self.engagement, self.anna, form_line).points, 5.0)
        self.assertEqual(self.anna.contact_score, 5.0)

    def test_no_contact_created_when_not_asked(self):
        self.add_line(
            self.engagement,
            "Contactformulier",
            trigger="website_lead_form",
            points=5,
            create_contact=False,
        )
        lead = self.send_contact_form("nieuw@example.nl")
        self.assertFalse(lead.partner_id)
        self.assertFalse(
            self.env["res.partner"].search([("email", "=", "nieuw@example.nl")]),
        )

    def test_lead_form_scores_the_lead_in_deal_models(self):
        form_line = self.add_line(
            self.deal_model, "Formulier", trigger="website_lead_form", points=5
        )
        view_line = self.add_line(self.deal_model, "Productpagina")
        self.visit("/shop/product-1")
        lead = self.send_contact_form("deal@example.nl")
        self.assertFalse(lead.partner_id, "no contact model asked for a contact")
        self.assertEqual(self.lines_of(self.deal_model, lead, form_line).points, 5.0)
        self.assertEqual(
            self.lines_of(self.deal_model, lead, view_line).reason,
            "Productpagina: /shop/product-1",
        )
        self.assertEqual(lead.deal_score, 6.0)
        # Its next views go to its newest lead.
        newer = self.send_contact_form("deal@example.nl")
        self.visit("/shop/product-2")
        self.assertEqual(
            self.lines_of(self.deal_model, newer, view_line).reason,
            "Productpagina: /shop/product-2",
        )
        self.assertEqual(len(self.lines_of(self.deal_model, lead, view_line)), 1)

    def test_merged_contacts_keep_each_view_once(self):
        """Odoo's contact merge merges their visitors: views credited before
        are not credited again to the surviving contact."""
        line = self.add_line(self.engagement, "Product page visited")
        bram = self.env["res.partner"].create({"name": "Bram", "email": "anna@example.nl"})
        visitors = self.env["website.visitor"]
        for partner, page in ((self.anna, self.products[0]), (bram, self.products[1])):
            visitor = visitors.create({"access_token": f"{partner.id:032x}"})
            self.add_past_view(visitor, page, 3)
            visitor.access_token = str(partner.id)  # what a login does
            visitors |= visitor
        self.assertEqual(len(self.lines_of(self.engagement, self.anna, line)), 1)
        self.assertEqual(len(self.lines_of(self.engagement, bram, line)), 1)

        self.env["base.partner.merge.automatic.wizard"]._merge((self.anna | bram).ids, bram)
        self.assertFalse(visitors[0].exists(), "Anna's visitor merged into Bram's")
        self.assertEqual(len(visitors[1].website_track_ids), 2)
        self.assertEqual(
            self.lines_of(self.engagement, bram, line).mapped("reason"),
            ["Product page visited: /shop/product-1", "Product page visited: /shop/product-2"],
        )
        self.assertEqual(self.score_of(self.engagement, bram), 2.0)
