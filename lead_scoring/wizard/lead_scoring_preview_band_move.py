from odoo import api, fields, models


class LeadScoringPreviewBandMove(models.TransientModel):
    """How many records publishing a draft moves from one band to another
    (bands by name: the draft's bands are copies of the live model's)."""

    _name = "lead.scoring.preview.band.move"
    _description = "Scoring Model Preview: Band Move"
    _order = "preview_id, count desc, id"

    preview_id = fields.Many2one("lead.scoring.preview", required=True, ondelete="cascade")
    band_from = fields.Char("From Band", help="The band now; empty: no band.")
    band_to = fields.Char("To Band", help="The band after publishing; empty: no band.")
    count = fields.Integer("Records")
    from_label = fields.Char("From", compute="_compute_labels")
    to_label = fields.Char("To", compute="_compute_labels")

    @api.depends("band_from", "band_to")
    def _compute_labels(self):
        no_band = self.env._("No band")
        for move in self:
            move.from_label = move.band_from or no_band
            move.to_label = move.band_to or no_band
