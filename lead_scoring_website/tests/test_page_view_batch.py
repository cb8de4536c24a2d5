from odoo.tests import new_test_user, tagged

from .common import LeadScoringWebsiteCase

INLINE = "lead_scoring.score_hits_inline"
# A line's fields compared between the two ways of crediting.
COMPARED = ("reason", "points", "date", "expire_date", "action_id", "source")


@tagged("post_install", "-at_install")
class TestPageViewBatch(LeadScoringWebsiteCase):
    """A page view only records the hit; the batch credits it exactly as
    crediting it in the request did (same lines, dates, cooldown and cap)."""

    def ledger(self, partner, line):
        return [
            tuple(point[name] for name in COMPARED)
            for point in self.lines_of(self.engagement, partner, line)
        ]

    def test_view_writes_no_line_and_the_batch_credits_it_at_the_visit(self):
        line = self.add_line(self.engagement, "Product page visited", expire_after=2)
        self.authenticate(self.portal.login, self.portal.login)
        partner = self.portal.partner_id
        self.visit("/shop/product-1", score=False)
        self.assertFalse(self.lines_of(self.engagement, partner, line))
        hit = self.env["lead.scoring.website.hit"].search([])
        track = self.track_of(self.last_visitor(), self.products[0])
        self.assertEqual(hit.track_id, track)
        cron = self.env.ref("lead_scoring_website.ir_cron_score_page_views")
        self.assertEqual((cron.interval_number, cron.interval_type), (1, "minutes"))
        self.env.flush_all()
        self.env["lead.scoring.website.hit"]._cron_score_hits()
        self.env.invalidate_all()
        self.assertFalse(hit.exists())
        self.assertEqual(self.lines_of(self.engagement, partner, line).date, track.visit_datetime)
        self.assertEqual(partner.contact_score, 1.0)

    def test_a_scoring_run_credits_the_waiting_views_first(self):
        line = self.add_line(self.engagement, "Product page visited", expire_after=2)
        self.authenticate(self.portal.login, self.portal.login)
        partner = self.portal.partner_id
        self.visit("/shop/product-1", score=False)
        self.env.flush_all()
        self.env["lead.scoring.model"]._recompute_scores()
        self.env.invalidate_all()
        self.assertFalse(self.env["lead.scoring.website.hit"].search([]))
        self.assertEqual(len(self.lines_of(self.engagement, partner, line)), 1)
        self.assertEqual(partner.contact_score, 1.0)

    def test_batch_gives_the_lines_of_crediting_at_once(self):
        line = self.add_line(
            self.engagement, "Product page visited", points=3, max_points=5, expire_after=2
        )
        cooled = self.add_line(
            self.engagement, "Product 1 gezien", url_pattern="/shop/product-1", cooldown_hours=24
        )
        other = new_test_user(self.env, login="lsw_portal_2", groups="base.group_portal")
        Param = self.env["ir.config_parameter"].sudo()
        pages = ["/shop/product-1", "/shop/product-2", "/shop/product-1", "/shop/product-3"]
        for user, inline in ((self.portal, "1"), (other, "0")):
            Param.set_param(INLINE, inline)
            self.authenticate(user.login, user.login)
            for page in pages:
                self.visit(page, score=False)
            self.logout()
        Param.set_param(INLINE, "0")
        self.assertFalse(self.lines_of(self.engagement, other.partner_id), "only recorded")
        self.score_hits()
        for scoring_line in (line, cooled):
            inline = self.ledger(self.portal.partner_id, scoring_line)
            batch = self.ledger(other.partner_id, scoring_line)
            self.assertEqual(batch, inline)
        # The cap: 3 + 2; the cooldown: product-1 once.
        self.assertEqual([row[1] for row in self.ledger(other.partner_id, line)], [3.0, 2.0])
        self.assertEqual(len(self.ledger(other.partner_id, cooled)), 1)
        self.assertEqual(other.partner_id.contact_score, self.portal.partner_id.contact_score)

    def test_anonymous_view_waits_for_the_visitor_to_be_known(self):
        self.add_line(self.engagement, "Product page visited")
        self.visit("/shop/product-1")
        self.assertFalse(self.env["lead.scoring.website.hit"].search([]), "handled")
        self.assertFalse(
            self.env["lead.scoring.point"].search([("model_id", "=", self.engagement.id)])
        )
