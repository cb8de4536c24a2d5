from odoo import fields, models

SERIES = [("current", "Current Points"), ("suggested", "Suggested Points")]


class LeadScoringLabLift(models.TransientModel):
    """The lift chart of a scoring lab: per tenth of the newest outcomes
    ranked by score (1 = the highest tenth), how often they were won,
    relative to the average."""

    _name = "lead.scoring.lab.lift"
    _description = "Scoring Lab Lift by Decile"
    _order = "lab_id, series, decile"

    lab_id = fields.Many2one("lead.scoring.lab", required=True, ondelete="cascade")
    series = fields.Selection(SERIES, required=True, readonly=True)
    decile = fields.Integer(
        readonly=True, help="1 = the tenth of the outcomes with the highest scores."
    )
    outcome_count = fields.Integer("Outcomes", readonly=True)
    won_count = fields.Integer("Won", readonly=True)
    won_rate = fields.Float("Won Rate (%)", digits=(16, 1), readonly=True, aggregator="avg")
    lift = fields.Float(
        digits=(16, 2),
        readonly=True,
        aggregator="avg",
        help="Won rate of the tenth divided by the overall won rate.",
    )
