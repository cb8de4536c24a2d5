from odoo import fields, models

from .lead_scoring_model import USE_JOBS_PARAM


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    lead_scoring_use_jobs = fields.Boolean(
        "Recompute in Background Jobs",
        config_parameter=USE_JOBS_PARAM,
        help="The scheduled recompute and Recompute now run as queue jobs on the "
        "channel root.lead_scoring, spread over the workers: one job per rule and "
        "range of records. Off: the recompute runs in the scheduler's worker.",
    )
