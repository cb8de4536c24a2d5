from odoo import models

# ir.config_parameter holding the order in which leads are handed out.
ASSIGNMENT_ORDER_PARAM = "lead_scoring.assignment_order"
ASSIGNMENT_ORDERS = [
    ("probability", "Probability (Odoo)"),
    ("deal_score", "Deal score"),
    ("contact_score", "Contact score (the customer's)"),
]


class CrmTeam(models.Model):
    """Odoo's lead assignment (automatic and "Assign leads") in score order.

    Odoo allocates leads to teams in the leads' search order and hands them
    to members by probability. With "Assign leads by" set to a score, both
    steps take the highest-scored leads first; leads with the same score
    keep Odoo's own order (see ``crm.lead._lead_scoring_assignment_sorted``).
    """

    _inherit = "crm.team"

    def _allocate_leads(self, creation_delta_days=7):
        teams = self._lead_scoring_in_score_order("lead_scoring_allocation_order")
        return super(CrmTeam, teams)._allocate_leads(creation_delta_days=creation_delta_days)

    def _assign_and_convert_leads(self, force_quota=False):
        teams = self._lead_scoring_in_score_order("lead_scoring_assignment_order")
        return super(CrmTeam, teams)._assign_and_convert_leads(force_quota=force_quota)

    def _lead_scoring_in_score_order(self, context_key):
        """These teams, with ``context_key`` telling crm.lead which score
        orders the leads of this step (nothing in Odoo's own order)."""
        order = self.env["ir.config_parameter"].sudo().get_param(ASSIGNMENT_ORDER_PARAM)
        if order not in ("deal_score", "contact_score"):
            return self
        return self.with_context(**{context_key: order})
