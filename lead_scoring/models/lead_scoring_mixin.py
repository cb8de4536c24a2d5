from collections import defaultdict

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError
from odoo.tools import SQL, split_every

from .lead_scoring_model import TARGETS
from .lead_scoring_rule import ALWAYS_WATCHED

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
    _lead_scoring_band_field = None

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
    @tools.ormcache()
    def _lead_scoring_primary_models(self):
        """Which scoring model gives the primary score of a record.

        :return: ``(shared_model_id, ((company_id, model_id), ...))``: the
            first active model without company serves records of every
            company not listed (and records without company); a company with
            models of its own is listed with its first eligible model.
        """
        scoring_models = (
            self.env["lead.scoring.model"]
            .sudo()
            .with_context(active_test=True)
            .search([("target", "=", self._lead_scoring_target)], order="sequence, id")
        )
        shared = next((m.id for m in scoring_models if not m.company_id), None)
        per_company = tuple(
            (
                company.id,
                next(m.id for m in scoring_models if m.company_id in (company, company.browse())),
            )
            for company in scoring_models.company_id
        )
        return shared, per_company

    def _lead_scoring_primary_model_id(self):
        """The id of the model giving this record's primary score (or None)."""
        self.ensure_one()
        shared, per_company = self._lead_scoring_primary_models()
        return dict(per_company).get(self.company_id.id, shared)

    def _lead_scoring_write_scores(self, scoring_model, scores):
        """Copy new scores of ``scoring_model`` into the primary score and band
        fields of the records for which it is the primary model.

        :param scores: ``{record id: (new score, new band id)}``
        """
        score_field, band_field = self._lead_scoring_fields()
        by_value = defaultdict(list)
        for record in self.sudo().browse(list(scores)):
            if record._lead_scoring_primary_model_id() == scoring_model.id:
                score, band_id = scores[record.id]
                if (record[score_field], record[band_field].id) != (score, band_id or False):
                    by_value[score, band_id].append(record.id)
        self._lead_scoring_write_by_value(by_value.items())

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._lead_scoring_check_score_write(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._lead_scoring_check_score_write(vals)
        return super().write(vals)

    def modified(self, fnames, create=False, before=False):
        # The ORM's one notice of every change of a stored field: saves and
        # creations, but also a tag's contacts changed from the tag's side.
        res = super().modified(fnames, create=create, before=before)
        if not before:
            watched = self._lead_scoring_watched_fields().intersection(fnames)
            if watched:
                self._lead_scoring_record_change(None if create else watched)
        return res

    def _lead_scoring_record_change(self, field_names):
        """Queue these records for the next recompute's rule evaluation
        (nothing to do while no active scoring model scores them).

        :param field_names: the fields that changed (None: all, new records)
        """
        ids = [record_id for record_id in self._ids if isinstance(record_id, int)]
        shared, per_company = self._lead_scoring_primary_models()
        if ids and (shared or per_company):
            changes = self.env["lead.scoring.change"]
            changes._record(self._lead_scoring_target, ids, field_names)

    @api.model
    def _lead_scoring_watched_fields(self):
        """Fields whose changes the rules evaluated on changed records must
        see: those their domains read (and what those are computed from),
        plus what decides whether a record is scored at all. Rules that read
        other records are evaluated on every record anyway."""
        watched = self.env["lead.scoring.rule"]._active_triggers()[0]
        return watched.get(self._lead_scoring_target, frozenset(ALWAYS_WATCHED))

    def _lead_scoring_check_score_write(self, vals):
        """Scores are the engine's (which writes as superuser): refuse them from
        anyone else, whatever the context says (a caller can set the context)."""
        if not self.env.su and set(self._lead_scoring_fields()) & vals.keys():
            raise AccessError(
                self.env._("Scores are computed from the score history; add points instead.")
            )

    def _lead_scoring_fields(self):
        """Names of the primary score and band fields of this model."""
        return self._lead_scoring_score_field, self._lead_scoring_band_field

    def _lead_scoring_write_by_value(self, ids_by_value):
        """Write the primary score and band fields, one ORM write per value.

        Through the ORM so that Automation Rules watching the fields fire;
        ``lead_scoring_engine`` in the context keeps the engine from
        re-entering itself from those rules.

        :param ids_by_value: iterable of ``((score, band id), record ids)``
        """
        score_field, band_field = self._lead_scoring_fields()
        records = self.sudo().with_context(
            lead_scoring_engine=True, tracking_disable=True, active_test=False
        )
        pending = 0
        for (score, band_id), ids in ids_by_value:
            for batch in split_every(SCORE_WRITE_BATCH, ids):
                records.browse(batch).write({score_field: score, band_field: band_id or False})
                pending += len(batch)
                if pending >= SCORE_WRITE_BATCH:
                    # A full recompute may touch a million records: keep the
                    # cache (and the worker's memory) to about one batch.
                    records.env.flush_all()
                    records.invalidate_model()
                    pending = 0

    @api.model
    def _lead_scoring_sync_primary_score(self, target_ids=None, scoring_model=None):
        """Bring the primary score and band of records in line with their
        score in their primary model, in one query.

        :param target_ids: only these records (default: every record)
        :param scoring_model: only the records whose primary model it is
        """
        score_field, band_field = self._lead_scoring_fields()
        column = TARGETS[self._lead_scoring_target][1]
        shared, per_company = self._lead_scoring_primary_models()
        if per_company:
            per_company_sql = SQL(
                "VALUES %s",
                SQL(", ").join(SQL("(%s::int, %s::int)", c, m) for c, m in per_company),
            )
        else:
            per_company_sql = SQL("SELECT NULL::int, NULL::int WHERE FALSE")
        restrict = SQL()
        if target_ids is not None:
            if not target_ids:
                return
            restrict = SQL("AND t.id = ANY(%s)", list(target_ids))
        if scoring_model is not None:
            if scoring_model.id not in {shared, *(model_id for _c, model_id in per_company)}:
                return  # it gives no record its primary score
            restrict = SQL(
                "%s AND COALESCE(pc.model_id, %s) = %s", restrict, shared, scoring_model.id
            )
        self.flush_model([score_field, band_field, "company_id"])
        self.env["lead.scoring.score"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                WITH per_company(company_id, model_id) AS (%(per_company)s)
                SELECT ARRAY[new_score, new_band], array_agg(id ORDER BY id) FROM (
                    SELECT t.id, COALESCE(s.score, 0.0) AS new_score,
                           s.band_id::float8 AS new_band,
                           COALESCE(t.%(score_field)s, 0.0) AS old_score,
                           t.%(band_field)s::float8 AS old_band
                      FROM %(table)s t
                      LEFT JOIN per_company pc ON pc.company_id = t.company_id
                      LEFT JOIN lead_scoring_score s
                             ON s.model_id = COALESCE(pc.model_id, %(shared)s)
                            AND s.%(column)s = t.id
                     WHERE TRUE %(restrict)s
                ) changes
                 WHERE new_score IS DISTINCT FROM old_score
                    OR new_band IS DISTINCT FROM old_band
                 GROUP BY new_score, new_band
                """,
                per_company=per_company_sql,
                shared=shared,
                score_field=SQL.identifier(score_field),
                band_field=SQL.identifier(band_field),
                table=SQL.identifier(self._table),
                column=SQL.identifier(column),
                restrict=restrict,
            )
        )
        self._lead_scoring_write_by_value(
            ((score, band and int(band)), ids) for (score, band), ids in self.env.cr.fetchall()
        )

    def action_open_lead_scoring_points(self):
        """Smart button "Score history": this record's ledger, live lines first."""
        self.ensure_one()
        column = TARGETS[self._lead_scoring_target][1]
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "lead_scoring.lead_scoring_point_action"
        )
        action["domain"] = [(column, "=", self.id)]
        action["context"] = {"search_default_filter_live": 1}
        return action
