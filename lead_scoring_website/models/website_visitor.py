from odoo import models
from odoo.tools import SQL

# What makes a visitor known: a login (its access token becomes its
# partner), a partner set by Odoo, a lead from the contact form.
KNOWN_FIELDS = {"access_token", "partner_id", "lead_ids"}


class WebsiteVisitor(models.Model):
    _inherit = "website.visitor"

    def write(self, vals):
        res = super().write(vals)
        if KNOWN_FIELDS & vals.keys():
            self._lead_scoring_credit_views()
        return res

    def _upsert_visitor(self, access_token, force_track_values=None):
        # The one place where Odoo records a tracked page view (with its track).
        visitor_id, upsert = super()._upsert_visitor(access_token, force_track_values)
        if force_track_values and force_track_values.get("url"):
            self.browse(visitor_id)._lead_scoring_page_viewed(force_track_values["url"])
        return visitor_id, upsert

    def _merge_visitor(self, target):
        # Odoo moves this visitor's views to ``target`` (a login on a second
        # device, merged contacts): the known visitor gets the anonymous views.
        res = super()._merge_visitor(target)
        target._lead_scoring_credit_views()
        return res

    def _lead_scoring_page_viewed(self, url):
        """This visitor just viewed ``url``: the hot path of every tracked page
        view, without a query unless an active "Page visited" line matches it,
        then one: the view is recorded and credited within a minute by the
        batch (``lead.scoring.website.hit``), or at once when hits are scored
        inline."""
        lines = self.env["lead.scoring.automation"]._website_page_lines(url)
        if lines:
            Hits = self.env["lead.scoring.website.hit"].sudo()
            if Hits._inline():
                self._lead_scoring_credit_views(lines, last_view_only=True)
            else:
                Hits._record(self.id)

    def _lead_scoring_credit_views(self, lines=None, last_view_only=False, track_ids=None):
        """Credit the views of these visitors that ``lines`` (default: every
        active "Page visited" line) have not handled yet, for the visitors
        that are known (a partner or a lead).

        :param last_view_only: only the visitor's view just recorded (a page
            view: its earlier views were handled when they were made, or wait
            for the visitor to become known)
        :param track_ids: only these views (the batch of recorded views)
        """
        if lines is None:
            lines = self.env["lead.scoring.automation"]._website_page_lines()
        if not lines or not self:
            return
        known = self.sudo().filtered(lambda visitor: visitor.partner_id or visitor.lead_ids)
        if known:
            if last_view_only:
                track_ids = known._lead_scoring_last_view_ids()
            lines._credit_page_views(known, track_ids)

    def _lead_scoring_last_view_ids(self):
        """The id of each visitor's last recorded view (the newest track is
        found first when walking the primary key backwards)."""
        self.env["website.track"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT (SELECT t.id FROM website_track t
                         WHERE t.visitor_id = visitor.id ORDER BY t.id DESC LIMIT 1)
                  FROM unnest(%s::int[]) AS visitor(id)
                """,
                self.ids,
            )
        )
        return [track_id for (track_id,) in self.env.cr.fetchall() if track_id]

    def _lead_scoring_leads(self):
        """This visitor's leads, newest first."""
        self.ensure_one()
        return self.sudo().lead_ids.sorted("id", reverse=True)

    def _lead_scoring_contact(self):
        """The contact a contact model scores for this visitor: its partner,
        else the contact of its newest lead that has one (the lead's customer,
        or the contact with the lead's e-mail address)."""
        self.ensure_one()
        if self.partner_id:
            return self.partner_id
        partners = self.env["res.partner"]
        for lead in self._lead_scoring_leads():
            contact = partners._lead_scoring_find_target(lead)
            if contact:
                return contact
        return partners
