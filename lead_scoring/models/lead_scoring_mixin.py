from collections import defaultdict

from markupsafe import Markup

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError
from odoo.osv import expression
from odoo.tools import SQL, split_every
from odoo.tools.safe_eval import safe_eval

from odoo.addons.base_automation.models.base_automation import WRITE_TRIGGERS

from ..engine import primary_score_changes_sql
from ..tracking import ALWAYS_WATCHED

# Set only by Python code (an RPC context is JSON and cannot hold it) while
# Odoo's merge copies the merged records' field values onto the survivor: the
# survivor's score comes from the ledger merged into it, not from those values.
KEEP_SCORES = object()

# Records written per ORM call when a score field changes: big enough to keep
# the number of statements low, small enough to bound the ORM's memory.
SCORE_WRITE_BATCH = 5000
# From this many changed scores on, those no Automation Rule watches are
# written with SQL, this many per statement.
SQL_WRITE_MIN_RECORDS = 1000
SQL_WRITE_BATCH = 100_000


class LeadScoringMixin(models.AbstractModel):
    """A scored Odoo model (a target): contacts, deals, or any model an addon
    declares by inheriting this mixin and setting the attributes below (the
    engine finds it in the registry; see ``engine.registered_targets``). Its
    primary score field is kept equal to its score in the first active
    scoring model of its kind."""

    _name = "lead.scoring.mixin"
    _description = "Scored Record"
    # Key of the target, stored in lead.scoring.model.target ("contact").
    _lead_scoring_target = None
    # Its label in the scoring model's Target selection (a lazy translation).
    _lead_scoring_target_label = None
    # Its many2one column in lead.scoring.point and lead.scoring.score ("partner_id").
    _lead_scoring_column = None
    # Its primary score and band fields ("contact_score", "contact_band_id").
    _lead_scoring_score_field = None
    _lead_scoring_band_field = None
    # Run order among targets: a target whose thresholds create records of
    # another target comes first, so that those are scored in the same run.
    _lead_scoring_sequence = 100

    lead_scoring_point_count = fields.Integer(
        "Score History Lines",
        compute="_compute_lead_scoring_point_count",
        groups="lead_scoring.group_lead_scoring_user",
    )

    lead_scoring_live_point_count = fields.Integer(
        "Score Lines",
        compute="_compute_lead_scoring_live_point_count",
        groups="lead_scoring.group_lead_scoring_user",
        help="Live score lines (not closed, not expired) of this record in every scoring "
        "model: the lines the Score History button opens. Its scores, one per scoring "
        "model, are on its Scores tab.",
    )

    lead_scoring_trend_direction = fields.Selection(
        [("up", "Rising"), ("steady", "Steady"), ("down", "Cooling down")],
        "Score Trend",
        compute="_compute_lead_scoring_trend",
        groups="lead_scoring.group_lead_scoring_user",
    )
    lead_scoring_trend_arrow = fields.Char(
        "Trend",
        compute="_compute_lead_scoring_trend",
        groups="lead_scoring.group_lead_scoring_user",
        help="How the primary score moved over its scoring model's trend period: "
        "▲ rising, ▼ cooling down, ▶ steady, with the points.",
    )

    def _compute_lead_scoring_trend(self):
        """The trend of each record's score in its primary model (the score
        beside it on cards and lists), computed with the score rows' own."""
        primary = self._origin._lead_scoring_primary_model_ids()
        column = self._lead_scoring_column
        rows = self.env["lead.scoring.score"].sudo().search([(column, "in", self._origin.ids)])
        by_record = {(row[column].id, row.model_id.id): row for row in rows}
        for record in self:
            row = by_record.get((record._origin.id, primary.get(record._origin.id)))
            record.lead_scoring_trend_direction = row.trend_direction if row else False
            record.lead_scoring_trend_arrow = row.trend_arrow if row else False

    def _compute_lead_scoring_point_count(self):
        column = self._lead_scoring_column
        counts = dict(
            self.env["lead.scoring.point"]._read_group(
                [(column, "in", self.ids)], [column], ["__count"]
            )
        )
        for record in self:
            record.lead_scoring_point_count = counts.get(record._origin, 0)

    def _compute_lead_scoring_live_point_count(self):
        column = self._lead_scoring_column
        counts = dict(
            self.env["lead.scoring.point"]._read_group(
                [(column, "in", self.ids), ("is_live", "=", True)], [column], ["__count"]
            )
        )
        for record in self:
            record.lead_scoring_live_point_count = counts.get(record._origin, 0)

    @api.model
    @tools.ormcache()
    def _lead_scoring_primary_candidates(self):
        """The scoring models that may give a record its primary score, in
        order: a record gets the first one whose company fits and whose
        segment matches it.

        :return: ``((model id, company id or None, segment domain or None), ...)``,
            ending at the first model without company nor segment (it takes
            every record left)
        """
        scoring_models = (
            self.env["lead.scoring.model"]
            .sudo()
            .with_context(active_test=True)
            .search(
                [("target", "=", self._lead_scoring_target), ("state", "=", "live")],
                order="sequence, id",
            )
        )
        candidates = []
        for scoring_model in scoring_models:
            segment = scoring_model._segment_domain()
            company_id = scoring_model.company_id.id or None
            candidates.append((scoring_model.id, company_id, tuple(segment) or None))
            if not company_id and not segment:
                break
        return tuple(candidates)

    def _lead_scoring_primary_model_ids(self):
        """``{record id: id of the model giving its primary score}`` for these
        few records, evaluated on the records in memory (the Adjust-score hot
        path: no query beyond reading them, no flush of pending writes)."""
        remaining = self.sudo().with_context(active_test=False)
        primary = {}
        for model_id, company_id, segment in self._lead_scoring_primary_candidates():
            domain = list(segment or [])
            if company_id:
                domain = expression.AND([domain, [("company_id", "=", company_id)]])
            matching = remaining.filtered_domain(domain) if domain else remaining
            primary.update(dict.fromkeys(matching.ids, model_id))
            remaining -= matching
        return primary

    def _lead_scoring_write_scores(self, scoring_model, scores):
        """Copy new scores of ``scoring_model`` into the primary score and band
        fields of the records for which it is the primary model.

        :param scores: ``{record id: (new score, new band id)}``
        """
        score_field, band_field = self._lead_scoring_fields()
        records = self.sudo().browse(list(scores))
        primary = records._lead_scoring_primary_model_ids()
        by_value = defaultdict(list)
        for record in records:
            if primary.get(record.id) == scoring_model.id:
                score, band_id = scores[record.id]
                if (record[score_field], record[band_field].id) != (score, band_id or False):
                    by_value[score, band_id].append(record.id)
        self._lead_scoring_write_by_value(by_value.items())

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            vals_list = [self._lead_scoring_without_score_values(vals) for vals in vals_list]
        return super().create(vals_list)

    def write(self, vals):
        if not self.env.su:
            vals = self._lead_scoring_without_score_values(vals)
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
        if ids and self._lead_scoring_primary_candidates():
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

    def _lead_scoring_without_score_values(self, vals):
        """``vals`` without the primary score and band fields, for a writer
        that is not the engine (the engine writes as superuser).

        A value that leaves a record's score as it is passes silently: the
        default a form, ``res.users`` (by delegation) or an import sends along,
        the current value a form saves back, what Odoo's contact merge copies
        while :data:`KEEP_SCORES` is set. A change is refused, whatever the
        context says (an RPC caller chooses its context).
        """
        names = set(self._lead_scoring_fields()) & vals.keys()
        if not names:
            return vals
        vals = dict(vals)
        offered = {name: vals.pop(name) for name in names}
        if self.env.context.get("lead_scoring_keep_scores") is KEEP_SCORES:
            return vals
        current = (
            [{name: record[name] for name in names} for record in self.sudo()]
            if self
            else [{name: self._fields[name].convert_to_record(None, self) for name in names}]
        )
        for name, raw in offered.items():
            field = self._fields[name]
            value = field.convert_to_record(field.convert_to_cache(raw, self), self)
            if any(values[name] != value for values in current):
                raise AccessError(
                    self.env._("Scores are computed from the score history; add points instead.")
                )
        return vals

    def _lead_scoring_fields(self):
        """Names of the primary score and band fields of this model."""
        return self._lead_scoring_score_field, self._lead_scoring_band_field

    def _lead_scoring_write_by_value(self, ids_by_value):
        """Write the primary score and band fields.

        Through the ORM for the records an Automation Rule watching these
        fields may fire on (the rule must see the change), with one SQL
        statement per batch for all others: a cold run writes a million
        scores, and an ORM write costs a millisecond each. Either way the
        ORM hears of the change (``modified``) when something depends on
        these fields: a stored computed field, a rule reading them.
        ``lead_scoring_engine`` in the context keeps the engine from
        re-entering itself from those rules.

        :param ids_by_value: iterable of ``((score, band id), record ids)``
        """
        ids_by_value = [(value, ids) for value, ids in ids_by_value if ids]
        all_ids = [record_id for _value, ids in ids_by_value for record_id in ids]
        if not all_ids:
            return
        records = self.sudo().with_context(
            lead_scoring_engine=True, tracking_disable=True, active_test=False
        )
        if len(all_ids) < SQL_WRITE_MIN_RECORDS:
            # A few records (an Adjust score, a small run): the ORM defers
            # and groups its writes, where SQL would send one UPDATE each.
            through_orm = set(all_ids)
        else:
            through_orm = records._lead_scoring_ids_watched(all_ids)
        records._lead_scoring_write_orm(
            (value, [record_id for record_id in ids if record_id in through_orm])
            for value, ids in ids_by_value
        )
        records._lead_scoring_write_sql(
            [
                (record_id, *value)
                for value, ids in ids_by_value
                for record_id in ids
                if record_id not in through_orm
            ]
        )

    def _lead_scoring_write_orm(self, ids_by_value):
        """One ORM write per value and batch (Automation Rules see them)."""
        score_field, band_field = self._lead_scoring_fields()
        pending = 0
        for (score, band_id), ids in ids_by_value:
            for batch in split_every(SCORE_WRITE_BATCH, ids):
                self.browse(batch).write({score_field: score, band_field: band_id or False})
                pending += len(batch)
                if pending >= SCORE_WRITE_BATCH:
                    # A full recompute may touch a million records: keep the
                    # cache (and the worker's memory) to about one batch.
                    self.env.flush_all()
                    self.invalidate_model()
                    pending = 0

    def _lead_scoring_write_sql(self, rows):
        """Write ``[(id, score, band id)]`` with one UPDATE per batch."""
        if not rows:
            return
        score_field, band_field = self._lead_scoring_fields()
        notify = self._lead_scoring_score_dependents()
        now = fields.Datetime.now()
        for batch in split_every(SQL_WRITE_BATCH, rows):
            ids, scores, bands = (list(column) for column in zip(*batch, strict=True))
            self.env.cr.execute(
                SQL(
                    """
                    UPDATE %(table)s t
                       SET %(score)s = v.score, %(band)s = v.band,
                           write_date = %(now)s, write_uid = %(uid)s
                      FROM unnest(%(ids)s::int[], %(scores)s::float8[], %(bands)s::int[])
                           AS v(id, score, band)
                     WHERE t.id = v.id
                    """,
                    table=SQL.identifier(self._table),
                    score=SQL.identifier(score_field),
                    band=SQL.identifier(band_field),
                    now=now,
                    uid=self.env.uid,
                    ids=ids,
                    scores=scores,
                    bands=[band or None for band in bands],
                )
            )
            written = self.browse(ids)
            written.invalidate_recordset([score_field, band_field, "write_date", "write_uid"])
            if notify:
                written.modified([score_field, band_field])
                self.env.flush_all()
                self.invalidate_model()

    def _lead_scoring_ids_watched(self, ids):
        """The records among ``ids`` that an active Automation Rule watching
        the primary score or band may fire on: those passing its
        precondition, and its filter when the filter does not read the score
        (the score is about to change). All of them when a rule has neither."""
        watching = self._lead_scoring_watching_automations()
        if not watching or not ids:
            return set()
        automations = self.env["base.automation"].sudo().browse(watching)
        found = set()
        for automation in automations:
            domain = self._lead_scoring_automation_scope(automation)
            if not domain:
                return set(ids)
            found.update(self.search([("id", "in", ids), *domain]).ids)
        return found

    def _lead_scoring_automation_scope(self, automation):
        """The records an automation may fire on, as a domain ([] = any): those
        its precondition accepts now (it is tested before the write), and its
        filter unless the filter reads the score (it is tested after the
        write, on the new score this run is about to give)."""
        eval_context = automation._get_eval_context()
        scope = []
        if automation.filter_pre_domain:
            scope = safe_eval(automation.filter_pre_domain, eval_context)
        post_domain = automation.filter_domain
        if post_domain and not any(name in post_domain for name in self._lead_scoring_fields()):
            scope = expression.AND([scope, safe_eval(post_domain, eval_context)])
        return scope

    @api.model
    @tools.ormcache()
    def _lead_scoring_watching_automations(self):
        """Ids of the active Automation Rules that fire on a write of the
        primary score or band (cleared when Automation Rules change)."""
        automations = (
            self.env["base.automation"]
            .sudo()
            .with_context(active_test=True)
            .search([("model_name", "=", self._name), ("trigger", "in", WRITE_TRIGGERS)])
        )
        names = set(self._lead_scoring_fields())
        return tuple(
            automation.id
            for automation in automations
            if not automation.trigger_field_ids
            or names & set(automation.trigger_field_ids.mapped("name"))
        )

    @api.model
    def _lead_scoring_score_dependents(self):
        """Whether anything must hear of a change of the primary score or
        band: a stored field computed from them, or an active rule reading
        them (of this model, or through a record pointing to it)."""
        names = set(self._lead_scoring_fields())
        watched, related = self.env["lead.scoring.rule"]._active_triggers()
        if names & watched.get(self._lead_scoring_target, frozenset()):
            return True
        if names & set(related.get(self._name, {})):
            return True
        return any(
            dependent.store
            for name in names
            for dependent in self.pool.get_dependent_fields(self._fields[name])
        )

    @api.model
    def _lead_scoring_sync_primary_score(self, target_ids=None, scoring_model=None, id_range=None):
        """Bring the primary score and band of records in line with their
        score in their primary model, in one query.

        :param target_ids: only these records (default: every record)
        :param scoring_model: only the records whose primary model it is
        :param id_range: only the records of this id range (``engine.id_range_sql``)
        """
        candidates = self._lead_scoring_primary_candidates()
        if target_ids is not None and not target_ids:
            return
        if scoring_model is not None and scoring_model.id not in {c[0] for c in candidates}:
            return  # it gives no record its primary score
        score_field, band_field = self._lead_scoring_fields()
        self.flush_model([score_field, band_field, "company_id"])
        self.env["lead.scoring.score"].flush_model()
        records = self.sudo().with_context(active_test=False)
        self.env.cr.execute(
            primary_score_changes_sql(
                records, candidates, target_ids, scoring_model and scoring_model.id, id_range
            )
        )
        self._lead_scoring_write_by_value(
            ((score, band and int(band)), ids) for (score, band), ids in self.env.cr.fetchall()
        )

    @api.model
    def _lead_scoring_forecast_inputs_changed(self):
        """Hook: a calibration, or which scoring model gives these records
        their primary score, changed (deals update their revenue forecast)."""

    @api.model
    def _lead_scoring_scores_changed(self, scoring_model, target_ids):
        """Hook: the scores of these records in ``scoring_model`` just changed
        (and their primary score was copied). Contacts update their lead grade."""

    @api.model
    def _lead_scoring_find_target(self, record):
        """The record of this model an "Adjust score" action scores when it
        runs on ``record`` of another model: by default the record its
        document reference (``model``/``res_model`` + ``res_id``: messages,
        mailing traces, activities) points to."""
        for model_field in ("model", "res_model"):
            if (
                model_field in record._fields
                and "res_id" in record._fields
                and record[model_field] == self._name
                and record.res_id
            ):
                target = self.browse(record.res_id).exists()
                if target:
                    return target
        return self.browse()

    @api.model
    def _lead_scoring_find_targets(self, records):
        """``{record id: id of the record of this model it leads to}`` for
        ``records`` (all of one other model), those without one left out: the
        batched ``_lead_scoring_find_target``: this default reads the
        document references at once, then asks it for the others record by
        record. A model may find them all at once (contacts do)."""
        targets = self._lead_scoring_referenced(records)
        for record in records:
            if record.id not in targets:
                target = self._lead_scoring_find_target(record)
                if target:
                    targets[record.id] = target.id
        return targets

    @api.model
    def _lead_scoring_referenced(self, records):
        """``{record id: id}`` of ``records`` whose document reference
        (``model``/``res_model`` + ``res_id``) names an existing record of
        this model (one query, none without references)."""
        wanted = {}
        for model_field in ("model", "res_model"):
            if model_field in records._fields and "res_id" in records._fields:
                for record in records:
                    if record[model_field] == self._name and record.res_id:
                        wanted.setdefault(record.id, record.res_id)
        if not wanted:
            return {}
        existing = set(self.sudo().browse(set(wanted.values())).exists().ids)
        return {record_id: res_id for record_id, res_id in wanted.items() if res_id in existing}

    def _lead_scoring_merge_into(self, survivor):
        """Give ``survivor`` the score history of these records, which a merge
        (contacts, opportunities) is about to delete.

        Their rule lines are closed (the survivor's own rule lines stand and
        the next run evaluates the rules on its merged values), then every
        line moves to the survivor: earned action, API and manual points keep
        counting, the closed history stays readable. Threshold crossings move
        too, so a threshold that fired for one of them does not fire again
        for the survivor. The survivor's scores are refreshed at once. Done
        before Odoo's generic foreign-key update, which would delete the rows
        that clash with the survivor's own.
        """
        survivor.ensure_one()
        merged = self - survivor
        if not merged:
            return
        column = self._lead_scoring_column
        now = fields.Datetime.now()
        env = self.env(su=True)
        self.env.flush_all()
        moved = env["lead.scoring.point"]._merge_lines(column, merged.ids, survivor.id, now)
        env["lead.scoring.threshold.crossing"]._merge_crossings(
            self._lead_scoring_target, merged.ids, survivor.id
        )
        model_ids = env["lead.scoring.score"]._merge_scores(column, merged.ids, survivor.id)
        points = env["lead.scoring.point"]
        for scoring_model in env["lead.scoring.model"].browse(sorted(model_ids | moved.keys())):
            changed = env["lead.scoring.score"]._refresh_scores(scoring_model, now, [survivor.id])
            points._after_scores_changed(scoring_model, changed)
        if moved and hasattr(survivor, "_message_log"):
            survivor.sudo()._message_log(body=self._lead_scoring_merge_note(merged, moved))

    def _lead_scoring_merge_note(self, merged, moved):
        """Chatter note of the survivor of a merge: whose points came in."""
        items = Markup("").join(
            Markup("<li>%s</li>")
            % self.env._(
                "%(model)s: %(count)s lines, %(points)s live points",
                model=scoring_model.name,
                count=count,
                points=format(points, "+g"),
            )
            for scoring_model, (count, points) in (
                (self.env["lead.scoring.model"].sudo().browse(model_id), counts)
                for model_id, counts in sorted(moved.items())
            )
        )
        header = self.env._(
            "Score history of %(records)s merged in (their rule lines closed):",
            records=", ".join(merged.mapped("display_name")),
        )
        return Markup("<p>%s</p><ul>%s</ul>") % (header, items)

    # ------------------------------------------------------------------
    # Scoring lab
    # ------------------------------------------------------------------

    @api.model
    def _lead_scoring_lab_outcomes_sql(self, date_from, date_to):
        """SQL of ``(id, won, date_closed)``: the records of this target with
        an outcome (won or lost) closed from ``date_from`` (included) to
        ``date_to`` (excluded, both optional), one row per record, for the
        scoring lab to learn from; None when this target has no outcomes
        (the lab is then not offered)."""
        return None

    @api.model
    def _lead_scoring_lab_excluded_fields(self):
        """Fields the lab must not propose rules on: bookkeeping, the
        addon's own fields and anything that records the outcome itself (a
        rule on it would "predict" what it merely repeats)."""
        return {
            "id",
            "create_uid",
            "write_uid",
            "company_id",
            "active",
            *self._lead_scoring_fields(),
        }

    def action_open_lead_scoring_points(self):
        """Smart button "Score history": this record's ledger, live lines first."""
        self.ensure_one()
        column = self._lead_scoring_column
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "lead_scoring.lead_scoring_point_action"
        )
        action["domain"] = [(column, "=", self.id)]
        action["context"] = {"search_default_filter_live": 1}
        return action
