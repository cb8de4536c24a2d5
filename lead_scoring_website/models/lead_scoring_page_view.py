from odoo import api, fields, models
from odoo.tools import SQL


class LeadScoringPageView(models.Model):
    """A page view a "Page visited" line has handled: what makes each view
    count once per line, even when its visitor is merged into another one or
    becomes known again (login, a second form)."""

    _name = "lead.scoring.page.view"
    _description = "Page View Handled by a Scoring Automation"
    _log_access = False

    automation_id = fields.Many2one(
        "lead.scoring.automation", required=True, ondelete="cascade", readonly=True
    )
    # Indexed for the cascade when Odoo deletes old visitors and their tracks.
    track_id = fields.Many2one(
        "website.track", required=True, ondelete="cascade", index=True, readonly=True
    )
    fired = fields.Boolean(
        readonly=True,
        help="The line fired at this view (every view, or the N-th page within D days).",
    )

    _sql_constraints = [
        (
            "automation_track_uniq",
            "unique(automation_id, track_id)",
            "A page view is handled once per scoring automation.",
        ),
    ]

    @api.model
    def _claim(self, line, views, fired):
        """Mark ``views`` handled by ``line`` and return the track ids this
        transaction marked: a view another transaction handled first (a
        concurrent request of the same visitor) is left to it.

        :param fired: the track ids at which the line fires
        """
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO lead_scoring_page_view (automation_id, track_id, fired)
                SELECT %(line)s, view.track_id, view.fired
                  FROM unnest(%(tracks)s::int[], %(fired)s::bool[]) AS view(track_id, fired)
                    ON CONFLICT (automation_id, track_id) DO NOTHING
                RETURNING track_id
                """,
                line=line.id,
                tracks=[view.track_id for view in views],
                fired=[view.track_id in fired for view in views],
            )
        )
        return {track_id for (track_id,) in self.env.cr.fetchall()}
