from odoo import api, models

from ..models.lead_scoring_mixin import KEEP_SCORES


class BasePartnerMergeAutomaticWizard(models.TransientModel):
    """Odoo's contact merge (the wizard and every caller of ``_merge``) keeps
    the score history of the contacts it merges away."""

    _inherit = "base.partner.merge.automatic.wizard"

    @api.model
    def _update_foreign_keys(self, src_partners, dst_partner):
        # Before Odoo's generic update, which deletes the rows that clash with
        # a unique index (an open line of the same rule, a score in the same model).
        src_partners._lead_scoring_merge_into(dst_partner)
        return super()._update_foreign_keys(src_partners, dst_partner)

    @api.model
    def _update_values(self, src_partners, dst_partner):
        # The survivor's score comes from its merged ledger, not from the
        # score fields of the contacts merged away.
        return super()._update_values(
            src_partners, dst_partner.with_context(lead_scoring_keep_scores=KEEP_SCORES)
        )
