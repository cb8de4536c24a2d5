from odoo import fields, models


class LeadScoringPoint(models.Model):
    _inherit = "lead.scoring.point"

    ticket_id = fields.Many2one(
        "test.lead.scoring.ticket", ondelete="cascade", index="btree_not_null"
    )


class LeadScoringScore(models.Model):
    _inherit = "lead.scoring.score"

    ticket_id = fields.Many2one(
        "test.lead.scoring.ticket", ondelete="cascade", index="btree_not_null", readonly=True
    )

    _sql_constraints = [
        ("model_ticket_uniq", "UNIQUE(model_id, ticket_id)", "A ticket has one score per model."),
    ]
