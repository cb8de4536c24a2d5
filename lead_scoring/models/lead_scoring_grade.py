import math

from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.osv import expression
from odoo.tools import SQL

from ..domains import domain_error, parse_domain


class LeadScoringGrade(models.Model):
    """Who acts weighs more: behaviour points (automations, API events) of
    the records matching a grade are multiplied ("a C-level's click counts
    twice"). The first active grade, by sequence, that a record matches applies."""

    _name = "lead.scoring.grade"
    _description = "Scoring Grade"
    _order = "sequence, id"

    model_id = fields.Many2one(
        "lead.scoring.model",
        string="Scoring Model",
        required=True,
        ondelete="cascade",
        index=True,
    )
    target_model = fields.Char(related="model_id.target_model")
    name = fields.Char(required=True, translate=True)
    domain = fields.Char(
        default="[]", required=True, help="The records this grade applies to, e.g. C-level."
    )
    multiplier = fields.Float(
        default=1.0, required=True, help="Behaviour points of these records are multiplied by it."
    )
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)

    _sql_constraints = [
        ("multiplier_positive", "CHECK(multiplier > 0)", "A grade's multiplier must be above 0."),
    ]

    @api.constrains("multiplier")
    def _check_multiplier(self):
        for grade in self:
            if not math.isfinite(grade.multiplier) or grade.multiplier <= 0:
                raise ValidationError(
                    self.env._(
                        'Grade "%(grade)s": the multiplier must be a number above 0.',
                        grade=grade.name,
                    )
                )

    @api.constrains("domain", "model_id")
    def _check_domain(self):
        for grade in self:
            error = domain_error(grade.model_id._target_records(), grade.domain)
            if error:
                raise ValidationError(
                    self.env._(
                        'The filter of grade "%(grade)s" is not a valid domain on '
                        "%(target)s: %(error)s",
                        grade=grade.name,
                        target=grade.model_id.target_model,
                        error=error,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        self.env.registry.clear_cache()  # _graded_model_ids
        return super().create(vals_list)

    def write(self, vals):
        if {"active", "model_id"} & vals.keys():
            self.env.registry.clear_cache()  # _graded_model_ids
        return super().write(vals)

    def unlink(self):
        self.env.registry.clear_cache()  # _graded_model_ids
        return super().unlink()

    @api.model
    @tools.ormcache()
    def _graded_model_ids(self):
        """The scoring models with an active grade. Cached: every award asks,
        and most models have none."""
        return frozenset(self.sudo().search([("active", "=", True)]).model_id.ids)

    @api.model
    def _grade_targets(self, scoring_model, target_ids):
        """``{target id: grade}`` for the records a grade of ``scoring_model``
        applies to, the first matching grade winning: one query for the batch,
        none when the model has no grade."""
        if not target_ids or scoring_model.id not in self._graded_model_ids():
            return {}
        grades = scoring_model.sudo().grade_ids.filtered("active")
        records = scoring_model._target_records().with_context(active_test=False)
        branches = []
        for rank, grade in enumerate(grades):
            domain = expression.AND(
                [[("id", "in", list(target_ids))], parse_domain(self.env, grade.domain)]
            )
            query = records._search(domain)
            branches.append(
                SQL(
                    "SELECT %s AS rank, %s AS grade_id, q.id FROM (%s) q",
                    rank,
                    grade.id,
                    query.select("id"),
                )
            )
        self.env.cr.execute(
            SQL(
                "SELECT DISTINCT ON (id) id, grade_id FROM (%s) g ORDER BY id, rank",
                SQL(" UNION ALL ").join(branches),
            )
        )
        return {
            target_id: grades.browse(grade_id) for target_id, grade_id in self.env.cr.fetchall()
        }
