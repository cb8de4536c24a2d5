import logging

from odoo import api, models
from odoo.tools import str2bool

from ..batches import run_in_committed_batches

_logger = logging.getLogger(__name__)

# System parameter: score the hits in the visitor's request, as before
# (setups without a running cron).
INLINE_PARAM = "lead_scoring.score_hits_inline"


class LeadScoringHitQueue(models.AbstractModel):
    """Hits a visitor's request only records (a mailing's opens and clicks,
    tracked page views), scored later in batches through the award path: by
    a scheduled action every minute, and by every scoring run before it
    starts, so that the run sees their points.

    A queue inherits this model and implements ``_score_hits``.
    """

    _name = "lead.scoring.hit.queue"
    _description = "Queue of Hits to Score"
    # Hits scored per transaction by the scheduled action (it commits in between).
    _hit_batch_size = 5000

    @api.model
    def _inline(self):
        """Whether hits are scored in the request (context key or system
        parameter ``lead_scoring.score_hits_inline``; no query: cached)."""
        if "lead_scoring_score_hits_inline" in self.env.context:
            return bool(self.env.context["lead_scoring_score_hits_inline"])
        return str2bool(self.env["ir.config_parameter"].sudo().get_param(INLINE_PARAM) or "0")

    @api.model
    def _score_hits(self, limit=None):
        """Score the waiting hits, oldest first, at most ``limit``, in this
        transaction, and clear them.

        :return: how many were handled (``limit`` when more may be waiting)
        """
        raise NotImplementedError

    @api.model
    def _cron_score_hits(self):
        """Score every waiting hit (scheduled action), one committed batch
        after another."""
        done = run_in_committed_batches(self.env, self._score_hits, self._hit_batch_size)
        if done:
            _logger.info("Lead scoring: %s: %s hits scored", self._name, done)
        return done

    @api.model
    def _score_all_queues(self, commit=False):
        """Score the hits waiting in every queue, before a scoring run: in
        committed batches under the cron (``commit``), else in this transaction."""
        for name in self.env.registry.descendants(["lead.scoring.hit.queue"], "_inherit"):
            queue = self.env[name].sudo()
            if queue._abstract:
                continue
            if commit:
                queue._cron_score_hits()
            else:
                queue._score_hits()
