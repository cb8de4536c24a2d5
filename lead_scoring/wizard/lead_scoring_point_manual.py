import math

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..expiry import EXPIRE_UNITS


class LeadScoringPointManual(models.TransientModel):
    """Add points by hand, with a reason: one manual ledger line per record."""

    _name = "lead.scoring.point.manual"
    _description = "Add Points by Hand"

    model_id = fields.Many2one(
        "lead.scoring.model",
        "Scoring Model",
        required=True,
        domain="[('target', '=', target), ('state', '=', 'live')]",
    )
    target = fields.Selection(selection="_selection_target", required=True)
    partner_ids = fields.Many2many("res.partner", string="Contacts")
    lead_ids = fields.Many2many("crm.lead", string="Deals")
    points = fields.Float(required=True)
    reason = fields.Char(required=True)
    expire_after = fields.Integer("Points Expire After", help="0 = never.")
    expire_unit = fields.Selection(EXPIRE_UNITS, default="months", required=True)

    @api.model
    def _selection_target(self):
        return self.env["lead.scoring.model"]._selection_target()

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        active_model = self.env.context.get("active_model")
        active_ids = self.env.context.get("active_ids") or []
        if active_model in self.env and hasattr(self.env[active_model], "_lead_scoring_target"):
            values["target"] = self.env[active_model]._lead_scoring_target
            records_field = self._records_field(active_model)
            if records_field:
                values[records_field] = [fields.Command.set(active_ids)]
        target = values.get("target")
        if target and "model_id" in fields_list and not values.get("model_id"):
            values["model_id"] = (
                self.env["lead.scoring.model"]
                .search([("target", "=", target), ("state", "=", "live")], limit=1)
                .id
            )
        return values

    def action_add_points(self):
        self.ensure_one()
        if not math.isfinite(self.points) or not self.points:
            raise ValidationError(self.env._("Enter a finite, non-zero number of points."))
        self.env["lead.scoring.point"].check_access("create")
        records_field = self._records_field(self.model_id.target_model)
        if records_field:
            targets = self[records_field]
        else:
            targets = self.env[self.model_id.target_model].browse(
                self.env.context.get("active_ids") or []
            )
        self.env["lead.scoring.point"].sudo()._add_points(
            self.model_id,
            [(target.id, self.points, self.reason) for target in targets],
            "manual",
            expire_after=self.expire_after,
            expire_unit=self.expire_unit,
        )
        return {"type": "ir.actions.act_window_close"}

    def _records_field(self, model_name):
        """The field of this wizard that lists records of ``model_name``, if any."""
        return next(
            (
                name
                for name, field in self._fields.items()
                if field.type == "many2many" and field.comodel_name == model_name
            ),
            None,
        )
