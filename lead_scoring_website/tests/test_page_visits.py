from datetime import timedelta
from unittest.mock import patch

from dateutil.relativedelta import relativedelta
from freezegun import freeze_time

from odoo.tests import tagged

from .common import LeadScoringWebsiteCase


@tagged("post_install", "-at_install")
class TestPageVisits(LeadScoringWebsiteCase):
    """Page views of real requests give behaviour points to the visitor's contact."""

    def test_known_visitor_gets_points_per_matching_page(self):
        product_line = self.add_line(self.engagement, "Product page visited", expire_after=2)
        self.authenticate(self.portal.login, self.portal.login)
        partner = self.portal.partner_id

        self.visit("/shop/product-1")
        self.visit("/over-ons")
        self.visit("/shop/product-2")

        visitor = self.last_visitor()
        self.assertEqual(visitor.partner_id, partner)
        lines = self.lines_of(self.engagement, partner, product_line)
        self.assertEqual(
            sorted(lines.mapped("reason")),
            ["Product page visited: /shop/product-1", "Product page visited: /shop/product-2"],
        )
        self.assertEqual(set(lines.mapped("source")), {"action"})
        self.assertEqual(self.score_of(self.engagement, partner), 2.0)
        self.assertEqual(partner.contact_score, 2.0)
        # Dated at the visit, expiring two months after it.
        track = self.track_of(visitor, self.products[0])
        line = lines.filtered(lambda line: line.reason.endswith("product-1"))
        self.assertEqual(line.date, track.visit_datetime)
        self.assertEqual(line.expire_date, line.date + relativedelta(months=2))

    def test_pattern_without_wildcard_and_language_prefix(self):
        about_line = self.add_line(self.engagement, "Over ons", url_pattern="/over-ons", points=4)
        dutch = self.env["res.lang"]._activate_lang("nl_NL")
        self.env["website"].get_current_website().language_ids |= dutch
        self.authenticate(self.portal.login, self.portal.login)
        self.visit("/over-ons")
        self.visit("/over-ons?utm_source=nieuwsbrief")
        self.visit(f"/{dutch.url_code}/over-ons")
        self.visit("/shop/product-1")
        partner = self.portal.partner_id
        self.assertEqual(len(self.lines_of(self.engagement, partner, about_line)), 3)
        self.assertEqual(self.score_of(self.engagement, partner), 12.0)

    def test_at_least_n_pages_within_d_days(self):
        """Fires at the N-th different page within D days, not before, not a
        second time within D days, and again after D days for N new pages."""
        four = self.add_line(
            self.engagement,
            "Details of at least 4 products within 30 days",
            min_visits=4,
            within_days=30,
            points=3,
        )
        partner = self.portal.partner_id
        self.authenticate(self.portal.login, self.portal.login)
        for number in (1, 2, 3, 3, 1):
            self.visit(f"/shop/product-{number}")
        self.visit("/over-ons")
        self.assertFalse(self.lines_of(self.engagement, partner, four), "3 different products")

        self.visit("/shop/product-4")
        fired = self.lines_of(self.engagement, partner, four)
        self.assertEqual(len(fired), 1)
        self.assertEqual(fired.points, 3.0)
        self.assertEqual(
            fired.reason, "Details of at least 4 products within 30 days: /shop/product-4"
        )

        self.visit("/shop/product-5")
        self.assertEqual(len(self.lines_of(self.engagement, partner, four)), 1, "within 30 days")

        # 31 days later: the views made before the award do not count again.
        visitor = self.last_visitor()
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE website_track SET visit_datetime = visit_datetime - interval '31 days'"
            " WHERE visitor_id = %s",
            [visitor.id],
        )
        for number in (5, 4, 3):
            self.visit(f"/shop/product-{number}")
        self.assertEqual(len(self.lines_of(self.engagement, partner, four)), 1)
        self.visit("/shop/product-2")
        self.assertEqual(len(self.lines_of(self.engagement, partner, four)), 2)
        self.assertEqual(self.score_of(self.engagement, partner), 6.0)

    def test_history_window_counts_views_around_the_nth_page(self):
        """Anonymous views evaluated later fire at the view that made N, dated then."""
        four = self.add_line(
            self.engagement, "Vier producten", min_visits=4, within_days=30, points=3
        )
        self.visit("/shop/product-1")  # today: a 5th page, nothing more
        visitor = self.last_visitor()
        self.add_past_view(visitor, self.products[1], 50)  # 30 days before the others
        self.add_past_view(visitor, self.products[2], 20)
        self.add_past_view(visitor, self.products[3], 10)
        self.add_past_view(visitor, self.products[4], 5)
        fourth = self.add_past_view(visitor, self.products[1], 2)
        self.assertFalse(self.lines_of(self.engagement, self.anna, four))

        visitor.sudo().partner_id = self.anna
        fired = self.lines_of(self.engagement, self.anna, four)
        self.assertEqual(len(fired), 1)
        self.assertEqual(fired.date, fourth.visit_datetime)
        self.assertEqual(fired.reason, "Vier producten: /shop/product-2")

    def test_no_line_no_query_on_page_views(self):
        """A page view costs nothing when no active "Page visited" line matches it."""
        counts = []
        visitor_class = type(self.env["website.visitor"])
        hook = visitor_class._lead_scoring_page_viewed

        def counted_hook(visitor, url):
            before = self.cr.sql_log_count
            hook(visitor, url)
            counts.append(self.cr.sql_log_count - before)

        def queries_of_a_view(path):
            counts.clear()
            with patch.object(visitor_class, "_lead_scoring_page_viewed", counted_hook):
                self.visit(path)
            self.assertEqual(len(counts), 1, "the hook runs on every tracked page view")
            return counts[0]

        self.visit("/shop/product-1")  # warm the caches
        self.assertEqual(queries_of_a_view("/shop/product-2"), 0, "no line")

        blog = self.add_line(self.engagement, "Blog", url_pattern="/blog/%")
        self.visit("/shop/product-1")
        self.assertEqual(queries_of_a_view("/shop/product-2"), 0, "a line of other pages")

        shop = self.add_line(self.engagement, "Shop")
        shop.active = False
        self.visit("/shop/product-1")
        self.assertEqual(queries_of_a_view("/shop/product-2"), 0, "an archived line")
        self.engagement.active = False
        shop.write({"active": True, "views_since": shop.views_since})  # keep the test's past
        self.visit("/shop/product-1")
        self.assertEqual(queries_of_a_view("/shop/product-2"), 0, "an archived scoring model")

        self.engagement.active = True
        self.visit("/shop/product-1")
        # A matching line: the view recorded for the batch (one INSERT), known
        # or not (the batch asks).
        self.assertEqual(queries_of_a_view("/shop/product-2"), 1, "a matching line, anonymous")
        self.assertFalse(
            self.env["lead.scoring.point"].search([("action_id", "=", shop.action_id.id)])
        )

        visitor = self.last_visitor()
        with self.assertQueryCount(0):
            visitor._lead_scoring_page_viewed(self.base_url() + "/over-ons")
        blog.unlink()

        # A known visitor: the same few queries at every view, whatever its history.
        self.authenticate(self.portal.login, self.portal.login)
        for number in (1, 2, 3, 4):
            self.visit(f"/shop/product-{number}")
        # (a view recorded without the hook: not credited by the later views)
        self.add_past_view(self.last_visitor(), self.products[0], 1)
        queries = [queries_of_a_view(f"/shop/product-{number}") for number in (5, 1, 2)]
        partner = self.portal.partner_id
        self.assertEqual(len(self.lines_of(self.engagement, partner, shop)), 7)
        self.assertEqual(len(set(queries)), 1, queries)
        self.assertEqual(queries[0], 1, "known visitor, matching line: the view recorded")

    def test_points_expire_counting_from_the_visit(self):
        line = self.add_line(self.engagement, "Product page visited", expire_after=2, points=2)
        self.visit("/shop/product-1")
        visitor = self.last_visitor()
        old = self.add_past_view(visitor, self.products[1], 40)
        visitor.sudo().partner_id = self.anna
        lines = self.lines_of(self.engagement, self.anna, line)
        self.assertEqual(len(lines), 2)
        self.assertEqual(lines[0].date, old.visit_datetime)
        self.assertEqual(self.score_of(self.engagement, self.anna), 4.0)
        # The older line expires two months after its visit, the newer one lives on.
        with freeze_time(old.visit_datetime + timedelta(days=62)):
            self.env["lead.scoring.model"]._cron_recompute_scores()
            self.env.invalidate_all()
            self.assertEqual(self.score_of(self.engagement, self.anna), 2.0)
            self.assertEqual(lines.mapped("is_live"), [False, True])

    def test_history_respects_cooldown_and_cap(self):
        line = self.add_line(self.engagement, "Shop", cooldown_hours=24, max_points=3, points=1)
        self.visit("/shop/product-1")
        visitor = self.last_visitor()
        first = self.add_past_view(visitor, self.products[1], 6)
        self.add_past_view(visitor, self.products[2], 6 - 1 / 24)  # an hour later: cooldown
        second = self.add_past_view(visitor, self.products[3], 4)
        self.add_past_view(visitor, self.products[4], 3)
        visitor.sudo().partner_id = self.anna
        lines = self.lines_of(self.engagement, self.anna, line)
        # Days -6, -4 and -3 pass the cooldown; the cap stops the view of today.
        self.assertEqual(lines.mapped("points"), [1.0, 1.0, 1.0])
        self.assertEqual(lines[0].date, first.visit_datetime)
        self.assertEqual(lines[1].date, second.visit_datetime)
        self.visit("/shop/product-2")
        self.assertEqual(len(self.lines_of(self.engagement, self.anna, line)), 3)
