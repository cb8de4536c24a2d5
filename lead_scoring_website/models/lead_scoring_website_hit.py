from odoo import api, fields, models
from odoo.tools import SQL


class LeadScoringWebsiteHit(models.Model):
    """A tracked page view that an active "Page visited" line matches,
    waiting to be credited.

    The page's request only records it here (one ``INSERT``, next to the view
    Odoo writes); the scheduled action "Lead Scoring: score page views" (every
    minute) and every scoring run credit the pending views in batches, dated
    at the visit, exactly as crediting them in the request did.
    """

    _name = "lead.scoring.website.hit"
    _inherit = ["lead.scoring.hit.queue"]
    _description = "Page View to Score"
    _log_access = False

    track_id = fields.Many2one("website.track", required=True, ondelete="cascade", readonly=True)

    @api.model
    def _record(self, visitor_id):
        """Queue the view ``visitor_id`` just made (its last track): one INSERT."""
        self.env["website.track"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO lead_scoring_website_hit (track_id)
                SELECT t.id FROM website_track t
                 WHERE t.visitor_id = %s
                 ORDER BY t.id DESC
                 LIMIT 1
                """,
                visitor_id,
            )
        )

    @api.model
    def _score_hits(self, limit=None):
        """Credit the pending views, oldest first (at most ``limit``), in this
        transaction, and remove them. Views of visitors still anonymous are
        left to the moment they become known, as in the request.

        The hits taken are locked (``FOR UPDATE SKIP LOCKED``): two processors
        running at once take different hits, and a processor that fails
        leaves its hits (and the points, rolled back with them) to the next.

        :return: the number of hits handled
        """
        self.env.cr.execute(
            SQL(
                """
                SELECT id, track_id FROM lead_scoring_website_hit
                 ORDER BY id
                 LIMIT %s
                   FOR UPDATE SKIP LOCKED
                """,
                limit,
            )
        )
        rows = self.env.cr.fetchall()
        if not rows:
            return 0
        track_ids = [track_id for __, track_id in rows]
        tracks = self.env["website.track"].sudo().browse(track_ids)
        tracks.visitor_id._lead_scoring_credit_views(track_ids=track_ids)
        self.env.cr.execute(
            SQL(
                "DELETE FROM lead_scoring_website_hit WHERE id = ANY(%s)",
                [row_id for row_id, __ in rows],
            )
        )
        return len(rows)
