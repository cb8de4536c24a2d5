from odoo import api, fields, models


class LeadScoringBand(models.Model):
    """A named score range (cold / warm / hot) starting at ``min_score``."""

    _name = "lead.scoring.band"
    _description = "Score Band"
    _order = "model_id, min_score, id"

    model_id = fields.Many2one(
        "lead.scoring.model",
        string="Scoring Model",
        required=True,
        ondelete="cascade",
        index=True,
    )
    name = fields.Char(required=True, translate=True)
    min_score = fields.Float(
        "Minimum Score", help="A score gets the band with the highest minimum it reaches."
    )
    code = fields.Char(
        size=4,
        help="Short code of the band in the lead grade (fit x engagement), e.g. A, B, C "
        "for a fit model and 1, 2, 3 for an engagement model.",
    )
    color = fields.Integer()
    score_count = fields.Integer("Records", compute="_compute_score_count")

    @api.depends("name", "model_id.name")
    @api.depends_context("lead_scoring_band_short")
    def _compute_display_name(self):
        # Readable next to the bands of other models: "Dealkwaliteit / Cold";
        # the band alone where the model is shown beside it or known.
        short = self.env.context.get("lead_scoring_band_short")
        for band in self:
            band.display_name = (
                f"{band.model_id.name} / {band.name}" if band.model_id and not short else band.name
            )

    def _compute_score_count(self):
        counts = dict(
            self.env["lead.scoring.score"]
            .sudo()
            ._read_group([("band_id", "in", self.ids)], ["band_id"], ["__count"])
        )
        for band in self:
            band.score_count = counts.get(band, 0)

    @api.model_create_multi
    def create(self, vals_list):
        bands = super().create(vals_list)
        bands.model_id._refresh_all_bands()
        return bands

    def write(self, vals):
        scoring_models = self.model_id
        res = super().write(vals)
        if {"min_score", "model_id"} & vals.keys():
            (scoring_models | self.model_id)._refresh_all_bands()
        elif "code" in vals:
            self.env["res.partner"]._lead_scoring_sync_lead_grade()
        return res

    def unlink(self):
        scoring_models = self.model_id
        res = super().unlink()
        scoring_models._refresh_all_bands()
        return res
