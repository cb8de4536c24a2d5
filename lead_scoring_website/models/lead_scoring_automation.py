from collections import defaultdict, namedtuple
from datetime import datetime, timedelta

from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from odoo.addons.lead_scoring.award import Award

from ..url_patterns import page_path, path_matches, url_prefilter

PAGE_VISIT = "website_page_visit"
LEAD_FORM = "website_lead_form"
# The Odoo model each website trigger runs on.
WEBSITE_TRIGGERS = {PAGE_VISIT: "website.track", LEAD_FORM: "crm.lead"}

# A tracked page view as the crediting sees it.
View = namedtuple("View", "track_id visitor_id path date")


class LeadScoringAutomation(models.Model):
    _inherit = "lead.scoring.automation"

    trigger = fields.Selection(
        selection_add=[(PAGE_VISIT, "Page visited"), (LEAD_FORM, "Lead form submitted")],
        ondelete={PAGE_VISIT: "cascade", LEAD_FORM: "cascade"},
    )
    model_target = fields.Selection(related="model_id.target", string="Scoring Model Target")
    url_pattern = fields.Char(
        "URL Pattern",
        help="Pages that count, the SQL LIKE way: % stands for any text, _ for one "
        "character. /shop/% = every page under /shop/. Compared with the page's path "
        "without host, query string and language prefix (/fr_BE/shop/chair counts "
        "as /shop/chair).",
    )
    min_visits = fields.Integer(
        "At Least (Pages)",
        help="Award the points once the visitor viewed this many different matching "
        "pages within the days below (0 or 1: every matching page view). The award "
        "comes again at the earliest that many days later, for views made since.",
    )
    within_days = fields.Integer("Within (Days)")
    views_since = fields.Datetime(
        "Counts Views Since",
        default=fields.Datetime.now,
        copy=False,
        help="Views made before this moment never count (set when the line is created "
        "or reactivated; move it back to credit the recent past, empty it to count "
        "every view Odoo kept).",
    )
    create_contact = fields.Boolean(
        "Create the Contact",
        default=True,
        help="When the e-mail address of the form belongs to no contact yet, create "
        "the lead's contact (as Odoo's conversion would) so that it can be scored.",
    )

    @api.constrains("trigger", "url_pattern", "min_visits", "within_days")
    def _check_website_trigger(self):
        for line in self.filtered(lambda line: line.trigger == PAGE_VISIT):
            if not (line.url_pattern or "").startswith("/"):
                raise ValidationError(
                    self.env._(
                        'Trigger "%(name)s": the URL pattern must start with "/", '
                        "for instance /shop/%%.",
                        name=line.name,
                    )
                )
            if line.min_visits < 0 or line.within_days < 0:
                raise ValidationError(
                    self.env._(
                        'Trigger "%(name)s": pages and days cannot be negative.', name=line.name
                    )
                )
            if line.min_visits > 1 and not line.within_days:
                raise ValidationError(
                    self.env._(
                        'Trigger "%(name)s": within how many days must the %(count)s '
                        "pages be viewed?",
                        name=line.name,
                        count=line.min_visits,
                    )
                )

    @api.onchange("trigger")
    def _onchange_trigger_website(self):
        if self.trigger in WEBSITE_TRIGGERS:
            self.trigger_model_id = self.env["ir.model"]._get(WEBSITE_TRIGGERS[self.trigger])

    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create([self._with_website_trigger_model(vals) for vals in vals_list])
        if lines._website_lines():
            self.env.registry.clear_cache()
        return lines

    def write(self, vals):
        vals = self._with_website_trigger_model(vals)
        reactivated = self.browse()
        if vals.get("active") and "views_since" not in vals:
            reactivated = self.filtered(lambda line: not line.active)
        website_before = self._website_lines()
        res = super().write(vals)
        if reactivated:
            # Views made while the line was archived do not count.
            reactivated.write({"views_since": fields.Datetime.now()})
        if website_before or self._website_lines():
            self.env.registry.clear_cache()
        return res

    def unlink(self):
        if self._website_lines():
            self.env.registry.clear_cache()
        return super().unlink()

    def _sync_automation(self):
        # Also what (de)activating the scoring model calls: the cached lines follow.
        res = super()._sync_automation()
        if self._website_lines():
            self.env.registry.clear_cache()
        return res

    @api.model
    def _event_triggers(self):
        return super()._event_triggers() | set(WEBSITE_TRIGGERS)

    def _with_website_trigger_model(self, vals):
        """``vals`` with the trigger model a website trigger runs on."""
        if vals.get("trigger") in WEBSITE_TRIGGERS:
            model = WEBSITE_TRIGGERS[vals["trigger"]]
            vals = dict(vals, trigger_model_id=self.env["ir.model"]._get_id(model))
        return vals

    def _website_lines(self):
        return self.filtered(lambda line: line.trigger in WEBSITE_TRIGGERS)

    # ------------------------------------------------------------------
    # The active website lines, cached: every tracked page view asks.
    # ------------------------------------------------------------------

    @api.model
    @tools.ormcache()
    def _website_lines_data(self):
        """``((line id, trigger, url pattern), ...)`` of the lines that may fire."""
        lines = (
            self.sudo()
            .with_context(active_test=True)
            .search(
                [
                    ("trigger", "in", list(WEBSITE_TRIGGERS)),
                    ("model_id.active", "=", True),
                    ("action_id", "!=", False),
                ]
            )
        )
        return tuple((line.id, line.trigger, line.url_pattern or "") for line in lines)

    @api.model
    def _website_page_lines(self, url=None):
        """The active "Page visited" lines (as superuser), only those whose
        pattern matches ``url`` when given. No query once cached."""
        data = [
            (id_, pattern)
            for id_, trigger, pattern in self._website_lines_data()
            if trigger == PAGE_VISIT
        ]
        if data and url is not None:
            path = page_path(url, self.env["res.lang"]._get_active_by("url_code"))
            data = [(id_, pattern) for id_, pattern in data if path_matches(pattern, path)]
        return self.sudo().browse([id_ for id_, _pattern in data])

    @api.model
    def _website_form_lines(self):
        """The active "Lead form submitted" lines (as superuser)."""
        data = self._website_lines_data()
        return self.sudo().browse([id_ for id_, trigger, _pattern in data if trigger == LEAD_FORM])

    # ------------------------------------------------------------------
    # Crediting page views
    # ------------------------------------------------------------------

    def _credit_page_views(self, visitors, track_ids=None):
        """Credit the views of ``visitors`` that these "Page visited" lines have
        not handled yet (only ``track_ids`` when given): each matching view
        once per line, dated at the visit.

        A view is handled once its visitor leads to a scored record (its
        contact or lead): at once for a known visitor, later for the views an
        anonymous visitor made, when it becomes known. Views older than the
        points' expiry are handled without points.
        """
        for line in self:
            if line.active and line.model_id.active and line.action_id:
                line._credit_line_views(visitors, track_ids)

    def _credit_line_views(self, visitors, track_ids=None):
        self.ensure_one()
        views = self._pending_views(visitors, track_ids)
        targets = self._view_targets(views)
        views = [view for view in views if view.visitor_id in targets]
        if not views:
            return
        fired = self._fired_views(views)
        claimed = self.env["lead.scoring.page.view"]._claim(self, views, fired)
        awards = self._page_view_awards(
            [view for view in views if view.track_id in claimed and view.track_id in fired],
            targets,
        )
        if awards:
            # The one award path: cooldown around each visit, cap, expiry from it.
            self.action_id._lead_scoring_award(awards)

    def _views_start(self):
        return self.views_since or datetime.min

    def _matching_views(self, rows):
        """``View`` of the rows ``(track id, visitor id, url, date)`` whose page
        matches the pattern and whose track passes the line's filter."""
        lang_codes = self.env["res.lang"]._get_active_by("url_code")
        views = []
        for track_id, visitor_id, url, date in rows:
            path = page_path(url, lang_codes)
            if path_matches(self.url_pattern, path):
                views.append(View(track_id, visitor_id, path, date))
        domain = self._filter_domain_list()
        if domain and views:
            tracks = self.env["website.track"].sudo().browse([view.track_id for view in views])
            kept = set(tracks.filtered_domain(domain).ids)
            views = [view for view in views if view.track_id in kept]
        return views

    def _pending_views(self, visitors, track_ids=None):
        """The matching views of ``visitors`` (among ``track_ids`` when given)
        since ``views_since`` that this line has not handled, oldest first
        (one query)."""
        self.env["website.track"].flush_model()
        self.env["lead.scoring.page.view"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT t.id, t.visitor_id, t.url, t.visit_datetime
                  FROM website_track t
                 WHERE t.visitor_id = ANY(%(visitors)s)
                   AND t.url LIKE %(prefilter)s
                   AND t.visit_datetime >= %(since)s %(among)s
                   AND NOT EXISTS (
                       SELECT 1 FROM lead_scoring_page_view v
                        WHERE v.automation_id = %(line)s AND v.track_id = t.id)
                 ORDER BY t.visit_datetime, t.id
                """,
                visitors=visitors.ids,
                prefilter=url_prefilter(self.url_pattern),
                since=self._views_start(),
                among=SQL("AND t.id = ANY(%s)", track_ids) if track_ids is not None else SQL(),
                line=self.id,
            )
        )
        return self._matching_views(self.env.cr.fetchall())

    def _view_targets(self, views):
        """``{visitor id: scored record id}`` of the visitors of ``views`` that
        lead to a record this line may score (the action's own rules: its path,
        else the visitor's contact or lead, active and of the model's company)."""
        first_tracks = {}
        for view in views:
            first_tracks.setdefault(view.visitor_id, view.track_id)
        if not first_tracks:
            return {}
        tracks = self.env["website.track"].sudo().browse(list(first_tracks.values()))
        targets = self.action_id._lead_scoring_scored_records(tracks, self.model_id)
        return {
            visitor_id: targets[track_id]
            for visitor_id, track_id in first_tracks.items()
            if track_id in targets
        }

    def _fired_views(self, views):
        """The track ids among ``views`` at which the line fires: every view, or
        with "at least N pages within D days" the view at which the visitor's
        distinct matching pages of the last D days reach N, unless the line
        fired for that visitor less than D days before (or after) it."""
        if self.min_visits <= 1:
            return {view.track_id for view in views}
        window = timedelta(days=self.within_days)
        pending = {view.track_id for view in views}
        fired = set()
        for visitor_views, fire_dates in self._window_views(views, window).values():
            for index, view in enumerate(visitor_views):
                if view.track_id not in pending:
                    continue
                paths = {
                    other.path
                    for other in visitor_views[: index + 1]
                    if other.date > view.date - window
                }
                if len(paths) >= self.min_visits and all(
                    abs(view.date - date) >= window for date in fire_dates
                ):
                    fired.add(view.track_id)
                    fire_dates.append(view.date)
        return fired

    def _window_views(self, views, window):
        """``{visitor id: (its matching views around ``views``, oldest first,
        [dates at which the line fired for it])}`` (one query)."""
        start = max(min(view.date for view in views) - window, self._views_start())
        self.env.cr.execute(
            SQL(
                """
                SELECT t.id, t.visitor_id, t.url, t.visit_datetime, v.fired
                  FROM website_track t
                  LEFT JOIN lead_scoring_page_view v
                         ON v.track_id = t.id AND v.automation_id = %(line)s
                 WHERE t.visitor_id = ANY(%(visitors)s)
                   AND t.url LIKE %(prefilter)s
                   AND t.visit_datetime >= %(start)s
                   AND t.visit_datetime < %(end)s
                 ORDER BY t.visit_datetime, t.id
                """,
                line=self.id,
                visitors=list({view.visitor_id for view in views}),
                prefilter=url_prefilter(self.url_pattern),
                start=start,
                end=max(view.date for view in views) + window,
            )
        )
        rows = self.env.cr.fetchall()
        fired = {row[0] for row in rows if row[4]}
        result = defaultdict(lambda: ([], []))
        for view in self._matching_views([row[:4] for row in rows]):
            visitor_views, fire_dates = result[view.visitor_id]
            visitor_views.append(view)
            if view.track_id in fired:
                fire_dates.append(view.date)
        return result

    def _page_view_awards(self, views, targets):
        """One award per fired view of ``views``, dated at the visit (never
        later than now: the database clock may run ahead)."""
        # Now to the second (fields.Datetime.now() drops the microseconds a
        # view made this very second still has).
        latest = fields.Datetime.now() + timedelta(seconds=1)
        return [
            Award(
                targets[view.visitor_id],
                min(view.date, latest),
                f"{self.name}: {view.path}",
                key=view.track_id,
            )
            for view in views
        ]
