from odoo import api, fields, models


class LeadScoringLabLine(models.TransientModel):
    """One rule of the model in the scoring lab: how its hits fared and the
    points the fit suggests for it (editable before applying)."""

    _name = "lead.scoring.lab.line"
    _description = "Scoring Lab Rule"
    _order = "lab_id, sequence, rule_id"

    lab_id = fields.Many2one("lead.scoring.lab", required=True, ondelete="cascade")
    rule_id = fields.Many2one("lead.scoring.rule", required=True, ondelete="cascade")
    sequence = fields.Integer(related="rule_id.sequence")
    name = fields.Char(related="rule_id.name")
    current_points = fields.Float(readonly=True)
    won_hits = fields.Integer(readonly=True, help="Won outcomes the rule matches.")
    lost_hits = fields.Integer(readonly=True, help="Lost outcomes the rule matches.")
    lift = fields.Float(
        digits=(16, 2),
        readonly=True,
        help="Won rate among the rule's hits divided by the overall won rate: 2 = its "
        "hits were won twice as often as the average outcome.",
    )
    suggested_points = fields.Float(
        help="Points from an L2-regularised logistic regression of won/lost on the rule "
        "hits, scaled so that the lab's points to double the odds double them.",
    )
    change = fields.Float(compute="_compute_change", help="Suggested minus current points.")
    note = fields.Char(readonly=True)

    @api.depends("current_points", "suggested_points")
    def _compute_change(self):
        for line in self:
            line.change = line.suggested_points - line.current_points
