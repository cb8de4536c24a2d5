from odoo import fields, models
from odoo.tools.translate import LazyTranslate

_lt = LazyTranslate(__name__)


class TestLeadScoringTicket(models.Model):
    """A support ticket, scored like contacts and deals: all it takes is the
    mixin, its five declarations and a ledger column (see lead_scoring_point.py)."""

    _name = "test.lead.scoring.ticket"
    _description = "Support Ticket (lead scoring tests)"
    _inherit = ["lead.scoring.mixin"]
    _lead_scoring_target = "ticket"
    _lead_scoring_target_label = _lt("Tickets")
    _lead_scoring_column = "ticket_id"
    _lead_scoring_score_field = "ticket_score"
    _lead_scoring_band_field = "ticket_band_id"
    _lead_scoring_sequence = 30

    name = fields.Char(required=True)
    partner_id = fields.Many2one("res.partner", "Customer")
    priority = fields.Selection([("0", "Normal"), ("1", "Urgent")], default="0")
    company_id = fields.Many2one("res.company")
    active = fields.Boolean(default=True)
    ticket_score = fields.Float(readonly=True, copy=False, index=True)
    ticket_band_id = fields.Many2one(
        "lead.scoring.band", readonly=True, copy=False, ondelete="set null"
    )
