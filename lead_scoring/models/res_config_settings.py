from odoo import api, fields, models

from .crm_team import ASSIGNMENT_ORDER_PARAM, ASSIGNMENT_ORDERS
from .lead_scoring_point import DEFAULT_RETENTION_DAYS, RETENTION_PARAM
from .res_partner import ENGAGEMENT_MODEL_PARAM, FIT_MODEL_PARAM


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    lead_scoring_interval_number = fields.Integer(
        "Recompute Every",
        compute="_compute_lead_scoring_interval",
        inverse="_inverse_lead_scoring_interval",
    )
    lead_scoring_interval_type = fields.Selection(
        [("minutes", "Minutes"), ("hours", "Hours"), ("days", "Days")],
        "Recompute Unit",
        compute="_compute_lead_scoring_interval",
        inverse="_inverse_lead_scoring_interval",
    )
    lead_scoring_retention_days = fields.Integer(
        "Ledger Retention (days)",
        config_parameter=RETENTION_PARAM,
        default=DEFAULT_RETENTION_DAYS,
        help="Closed and expired ledger lines older than this are removed. 0 = keep forever.",
    )

    lead_scoring_fit_model_id = fields.Many2one(
        "lead.scoring.model",
        "Fit Model",
        config_parameter=FIT_MODEL_PARAM,
        domain=[("target", "=", "contact"), ("state", "=", "live")],
        help="Its band codes are the letter of the lead grade (A1: A).",
    )
    lead_scoring_engagement_model_id = fields.Many2one(
        "lead.scoring.model",
        "Engagement Model",
        config_parameter=ENGAGEMENT_MODEL_PARAM,
        domain=[("target", "=", "contact"), ("state", "=", "live")],
        help="Its band codes are the digit of the lead grade (A1: 1).",
    )

    lead_scoring_assignment_order = fields.Selection(
        ASSIGNMENT_ORDERS,
        "Assign Leads By",
        config_parameter=ASSIGNMENT_ORDER_PARAM,
        default="probability",
        help='Order in which Odoo\'s lead assignment (automatic and "Assign leads") hands '
        "out leads: the highest first. Leads with the same score keep Odoo's order.",
    )

    def set_values(self):
        before = self.env["res.partner"]._lead_scoring_grade_models()
        res = super().set_values()
        if self.env["res.partner"]._lead_scoring_grade_models() != before:
            self.env["res.partner"]._lead_scoring_sync_lead_grade()
        return res

    @api.model
    def _lead_scoring_cron(self):
        return self.env.ref(
            "lead_scoring.ir_cron_recompute_scores", raise_if_not_found=False
        ).sudo()

    # Computed on a new record (the settings form is one) only through a
    # dependency: without it the client gets 0 and no unit.
    @api.depends("company_id")
    def _compute_lead_scoring_interval(self):
        cron = self._lead_scoring_cron()
        for settings in self:
            settings.lead_scoring_interval_number = cron.interval_number if cron else 1
            settings.lead_scoring_interval_type = cron.interval_type if cron else "hours"

    def _inverse_lead_scoring_interval(self):
        cron = self._lead_scoring_cron()
        for settings in self:
            if cron and settings.lead_scoring_interval_number > 0:
                cron.write(
                    {
                        "interval_number": settings.lead_scoring_interval_number,
                        "interval_type": settings.lead_scoring_interval_type or "hours",
                    }
                )
