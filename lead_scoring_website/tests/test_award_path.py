from odoo.tests import new_test_user, tagged

from .common import LeadScoringWebsiteCase


@tagged("post_install", "-at_install")
class TestAwardPath(LeadScoringWebsiteCase):
    """Page views and API events go through the same award path: the same
    hits give the same lines (cooldown around each date, cap, expiry)."""

    def test_same_hits_through_the_website_and_the_api_give_the_same_lines(self):
        settings = {"points": 1, "cooldown_hours": 24, "max_points": 3, "expire_after": 2}
        page_line = self.add_line(self.engagement, "Shop", **settings)
        self.add_line(
            self.engagement, "Shop (API)", trigger="api_event", api_code="shop_viewed", **settings
        )
        self.visit("/shop/product-1")  # today, anonymous: credited once known
        visitor = self.last_visitor()
        for page, days_ago in ((1, 70), (2, 6), (3, 6 - 1 / 24), (4, 4), (0, 3)):
            # Expired at once; two within the cooldown; the cap stops today's.
            self.add_past_view(visitor, self.products[page], days_ago)
        visitor.sudo().partner_id = self.anna
        dates = visitor.website_track_ids.mapped("visit_datetime")

        bram = self.env["res.partner"].create({"name": "Bram", "email": "bram@example.be"})
        platform = new_test_user(
            self.env,
            login="lsw_platform",
            groups="base.group_user,lead_scoring.group_lead_scoring_api",
        )
        events = [
            {
                "id": f"view-{index}",
                "type": "shop_viewed",
                "email": bram.email,
                "occurred_at": date.isoformat(),
            }
            for index, date in enumerate(dates)
        ]
        results = self.env(user=platform, su=True)["lead.scoring.api.event"]._receive(events)
        self.assertEqual(
            sorted(result["status"] for result in results),
            ["scored"] * 3 + ["skipped"] * 3,
        )

        def summary(record):
            return [
                (line.points, line.date, line.expire_date, line.is_live)
                for line in self.lines_of(self.engagement, record)
            ]

        self.assertEqual(len(self.lines_of(self.engagement, self.anna, page_line)), 3)
        self.assertEqual(summary(self.anna), summary(bram))
        self.assertEqual(self.score_of(self.engagement, self.anna), 3.0)
        self.assertEqual(self.score_of(self.engagement, bram), 3.0)
