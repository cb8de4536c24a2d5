from odoo import models


class LeadScoringModel(models.Model):
    _inherit = "lead.scoring.model"

    def _recompute_scores(self, commit=False, full=False):
        # Every scoring run first credits the page views still waiting: the
        # run then sees the points they bring.
        Hits = self.env["lead.scoring.website.hit"].sudo()
        if commit:
            Hits._cron_score_hits()
        else:
            Hits._score_hits()
        return super()._recompute_scores(commit=commit, full=full)
