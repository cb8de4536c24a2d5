from odoo import api, fields, models
from odoo.tools import SQL, split_every

from .lead_scoring_model import TARGETS

# Records written per ORM call when a score field changes: big enough to keep
# the number of statements low, small enough to bound the ORM's memory.
SCORE_WRITE_BATCH = 5000


class LeadScoringMixin(models.AbstractModel):
    """What scored records (contacts, deals) share: their primary score field,
    kept equal to their score in the first active scoring model of their kind."""

    _name = "lead.scoring.mixin"
    _description = "Scored Record"
    _lead_scoring_target = None
    _lead_scoring_score_field = None

    lead_scoring_point_count = fields.Integer(
        "Score History Lines",
        compute="_compute_lead_scoring_point_count",
        groups="lead_scoring.group_lead_scoring_user",
    )

    def _compute_lead_scoring_point_count(self):
        column = TARGETS[self._lead_scoring_target][1]
        counts = dict(
            self.env["lead.scoring.point"]._read_group(
                [(column, "in", self.ids)], [column], ["__count"]
            )
        )
        for record in self:
            record.lead_scoring_point_count = counts.get(record._origin, 0)

    @api.model
    def _lead_scoring_primary_models(self):
        """``[(company_id, model_id)]``: which model gives the primary score of
        the records of each company (``None`` = records without company)."""
        scoring_models = (
            self.env["lead.scoring.model"]
            .sudo()
            .search([("target", "=", self._lead_scoring_target)], order="sequence, id")
        )
        primary = []
        companies = self.env["res.company"].sudo().search([]).ids
        for company_id in [None, *companies]:
            first = next(
                (m for m in scoring_models if m.company_id.id in (False, company_id)),
                None,
            )
            if first:
                primary.append((company_id, first.id))
        return primary

    @api.model
    def _lead_scoring_sync_primary_score(self, target_ids=None):
        """Write the primary score field of records where it differs from their
        score in the primary model.

        Written through the ORM, grouped by value, so that Automation Rules
        watching the field fire; ``lead_scoring_engine`` in the context keeps
        the engine from re-entering itself from those rules.
        """
        if target_ids is not None and not target_ids:
            return
        field = self._lead_scoring_score_field
        column = TARGETS[self._lead_scoring_target][1]
        primary = self._lead_scoring_primary_models()
        if primary:
            primary_sql = SQL(
                "VALUES %s",
                SQL(", ").join(SQL("(%s::int, %s::int)", c, m) for c, m in primary),
            )
        else:
            primary_sql = SQL("SELECT NULL::int, NULL::int WHERE FALSE")
        restrict = SQL()
        if target_ids is not None:
            restrict = SQL("AND t.id = ANY(%s)", list(target_ids))
        self.flush_model([field, "company_id"])
        self.env.cr.execute(
            SQL(
                """
                WITH primary_model(company_id, model_id) AS (%(primary)s)
                SELECT new_score, array_agg(id ORDER BY id) FROM (
                    SELECT t.id, COALESCE(s.score, 0.0) AS new_score,
                           COALESCE(t.%(field)s, 0.0) AS old_score
                      FROM %(table)s t
                      LEFT JOIN primary_model pm
                             ON pm.company_id IS NOT DISTINCT FROM t.company_id
                      LEFT JOIN lead_scoring_score s
                             ON s.model_id = pm.model_id AND s.%(column)s = t.id
                     WHERE TRUE %(restrict)s
                ) changes
                 WHERE new_score IS DISTINCT FROM old_score
                 GROUP BY new_score
                """,
                primary=primary_sql,
                field=SQL.identifier(field),
                table=SQL.identifier(self._table),
                column=SQL.identifier(column),
                restrict=restrict,
            )
        )
        records = self.sudo().with_context(
            lead_scoring_engine=True, tracking_disable=True, active_test=False
        )
        for value, ids in self.env.cr.fetchall():
            for batch in split_every(SCORE_WRITE_BATCH, ids):
                records.browse(batch).write({field: value})

    def action_open_lead_scoring_points(self):
        """Smart button "Score history": this record's ledger, live lines first."""
        self.ensure_one()
        column = TARGETS[self._lead_scoring_target][1]
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "lead_scoring.lead_scoring_point_action"
        )
        action["domain"] = [(column, "=", self.id)]
        action["context"] = {"search_default_filter_live": 1, "search_default_group_model": 1}
        return action

