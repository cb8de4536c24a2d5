from odoo import fields, models


class LeadScoringPreviewRuleChange(models.TransientModel):
    """One rule a draft adds, removes or changes, as the preview lists it
    (matched to the live rules by ``origin_rule_id``)."""

    _name = "lead.scoring.preview.rule.change"
    _description = "Scoring Model Preview: Rule Change"
    _order = "preview_id, sequence, id"

    preview_id = fields.Many2one("lead.scoring.preview", required=True, ondelete="cascade")
    sequence = fields.Integer()
    name = fields.Char("Rule")
    change = fields.Selection(
        [("added", "Added"), ("removed", "Removed"), ("changed", "Changed")],
        required=True,
    )
    old_points = fields.Float("Points Now")
    new_points = fields.Float("Points in the Draft")
    detail = fields.Char("What Changes")
