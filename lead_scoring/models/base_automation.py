from odoo import api, models

# What decides whether an Automation Rule watches the primary scores.
WATCH_FIELDS = {"model_id", "active", "trigger", "trigger_field_ids"}


class BaseAutomation(models.Model):
    """Automation Rules on the scored models decide how the engine writes the
    primary scores (see ``lead.scoring.mixin._lead_scoring_write_by_value``):
    forget the cached choice when one changes."""

    _inherit = "base.automation"

    @api.model_create_multi
    def create(self, vals_list):
        automations = super().create(vals_list)
        self.env.registry.clear_cache()
        return automations

    def write(self, vals):
        res = super().write(vals)
        if WATCH_FIELDS & vals.keys():
            self.env.registry.clear_cache()
        return res

    def unlink(self):
        res = super().unlink()
        self.env.registry.clear_cache()
        return res
