import math
from collections import defaultdict

from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.osv import expression
from odoo.tools import SQL, sql

from ..domains import DOMAIN_ERRORS, domain_error, parse_domain
from ..engine import evaluation, id_range_sql, rule_diff_sql
from ..expiry import EXPIRE_UNITS, expire_date_from
from ..tracking import (
    ALWAYS_WATCHED,
    RELATIONAL_OPERATORS,
    is_watched,
    make_watching_modified,
    unwatch_models,
)


class LeadScoringRule(models.Model):
    _name = "lead.scoring.rule"
    _description = "Scoring Rule"
    _order = "sequence, id"

    model_id = fields.Many2one(
        "lead.scoring.model",
        string="Scoring Model",
        required=True,
        ondelete="cascade",
        index=True,
    )
    target_model = fields.Char(related="model_id.target_model")
    company_id = fields.Many2one(related="model_id.company_id")
    name = fields.Char(required=True, translate=True)
    domain = fields.Char(
        default="[]",
        required=True,
        help="Records matching this filter get the rule's points once, for as "
        "long as they keep matching.",
    )
    points = fields.Float(required=True, help="May be negative.")
    expire_after = fields.Integer(help="0 = the points never expire.")
    expire_unit = fields.Selection(EXPIRE_UNITS, default="months", required=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    match_count = fields.Integer(
        "Matching in Segment",
        compute="_compute_match_count",
        help="Active records that match this rule within the scoring model's segment and "
        "company today: the records holding its points. The count under the filter "
        "counts the filter alone.",
    )
    evaluated_domain = fields.Char(
        readonly=True,
        copy=False,
        help="Technical: the domain, as evaluated (dates filled in), when the rule "
        "was last evaluated on every record. While it stays the same, a recompute "
        "evaluates the rule on the records changed since the last run only.",
    )
    split_domain = fields.Char(
        readonly=True,
        copy=False,
        help="Technical: the domain, as evaluated, while the rule is evaluated on every "
        "record in parts by id range (background jobs); the rule counts as evaluated "
        "once every part is done.",
    )
    date_full_evaluation = fields.Datetime(
        "Last Full Evaluation",
        readonly=True,
        copy=False,
        help="When the rule was last evaluated on every record.",
    )
    origin_rule_id = fields.Many2one(
        "lead.scoring.rule",
        "Copy Of",
        ondelete="set null",
        copy=False,
        readonly=True,
        index="btree_not_null",
        help="Rules of a draft: the live rule this one replaces when the draft is published.",
    )

    _sql_constraints = [
        (
            "expire_after_positive",
            "CHECK(expire_after >= 0)",
            "The expiry of a rule cannot be negative.",
        ),
    ]

    @api.depends("domain", "model_id.target", "model_id.company_id")
    def _compute_match_count(self):
        for rule in self:
            try:
                rule.match_count = rule._target_records().search_count(rule._match_domain())
            except Exception:  # noqa: BLE001 -- a half-typed domain in the form
                rule.match_count = 0

    @api.constrains("domain", "model_id")
    def _check_domain(self):
        for rule in self.filtered("model_id"):
            error = domain_error(rule._target_records(), rule.domain)
            if error:
                raise ValidationError(
                    self.env._(
                        'The filter of rule "%(rule)s" is not a valid domain on '
                        "%(target)s: %(error)s",
                        rule=rule.name,
                        target=rule.model_id.target_model,
                        error=error,
                    )
                )

    @api.constrains("points", "expire_after")
    def _check_points(self):
        for rule in self:
            if not math.isfinite(rule.points):
                raise ValidationError(self.env._("The points of a rule must be a finite number."))
            if rule.expire_after < 0:
                raise ValidationError(
                    self.env._(
                        'Rule "%(rule)s": points cannot expire after a negative time.',
                        rule=rule.name,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        rules = super().create(vals_list)
        # Which fields the rules read (cached) changed.
        self._update_watched_models()
        self._trigger_recompute()
        return rules

    def write(self, vals):
        old_points = {rule: rule.points for rule in self} if "points" in vals else {}
        if "active" in vals and not vals["active"]:
            self._close_open_lines()
        if {"active", "model_id"} & vals.keys():
            # Record changes made while archived (or in the other model) went unseen.
            vals = dict(
                vals, evaluated_domain=False, split_domain=False, date_full_evaluation=False
            )
        res = super().write(vals)
        if {"domain", "active", "model_id"} & vals.keys():
            self._update_watched_models()
            if "model_id" in vals:
                self._close_open_lines()
            self._trigger_recompute()
        if old_points:
            self._log_points_changes(old_points)
        return res

    def unlink(self):
        self._close_open_lines()
        self._trigger_recompute()
        res = super().unlink()
        self._update_watched_models()
        return res

    # ------------------------------------------------------------------
    # Change tracking on the models the rules read through a path
    # ------------------------------------------------------------------

    def _register_hook(self):
        res = super()._register_hook()
        self._watch_related_models()
        return res

    def _unregister_hook(self):
        res = super()._unregister_hook()
        unwatch_models(self.env.registry, self.env.registry)
        return res

    def _watch_related_models(self):
        """Hook ``modified()`` on exactly the models the active rules read
        through a path (a deal rule on its customer's country watches
        res.partner and res.country), the way ``base_automation`` patches the
        models its rules name; unhook the others.

        :return: whether the set of watched models changed
        """
        registry = self.env.registry
        wanted = {name for name in self._active_triggers()[1] if name in registry}
        watched = {name for name in registry if is_watched(registry[name])}
        if wanted == watched:
            return False
        unwatch_models(registry, watched - wanted)
        for model_name in wanted - watched:
            model_class = registry[model_name]
            modified = make_watching_modified()
            modified.origin = model_class.modified
            model_class.modified = modified
        return True

    def _update_watched_models(self):
        """After rules changed: re-hook this worker, and have the others
        reload their registry when the set of watched models changed."""
        self.env.registry.clear_cache()
        if self.env.registry.ready and self._watch_related_models():
            self.env.registry.registry_invalidated = True

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------

    def _log_points_changes(self, old_points):
        """Note a change of points in the chatter of the rules' scoring model,
        so that "monitor and adjust" leaves a history. The scoring lab logs
        its own changes in one note of its own."""
        if self.env.context.get("lead_scoring_lab_apply"):
            return
        for rule in self:
            if rule.points != old_points[rule]:
                rule.model_id.sudo().message_post(
                    body=self.env._(
                        "Rule %(rule)s: points %(old)s → %(new)s",
                        rule=rule.name,
                        old=format(old_points[rule], "g"),
                        new=format(rule.points, "g"),
                    ),
                    subtype_xmlid="mail.mt_note",
                    author_id=self.env.user.partner_id.id,
                )

    def _parsed_domain(self):
        """The rule's domain as data (safe evaluation, never Python code)."""
        self.ensure_one()
        return parse_domain(self.env, self.domain)

    def _target_records(self):
        self.ensure_one()
        return self.model_id._target_records()

    def _match_domain(self):
        """The records the rule awards: its domain within its scoring model's
        scope (company and segment)."""
        self.ensure_one()
        return expression.AND([self._parsed_domain(), self.model_id._scope_domain()])

    def _reason(self):
        self.ensure_one()
        return self.env._("Rule: %(rule)s", rule=self.name)

    def _evaluate(self, now, id_range=None):
        """Evaluate these rules now (see ``engine.evaluation.evaluate``): the
        engine's steps do so; publishing a draft does too."""
        evaluation.evaluate(self, now, id_range)

    def _needs_full_evaluation(self, domain, fields_read):
        """Whether the rule must be evaluated on every record this run.

        Evaluating only the records changed since the last run gives the same
        result when the evaluated domain did not change since the last full
        evaluation (a relative date rolls over once a day) and every change
        that can change its result is one the ORM reports on the record or on
        a record it points to (``fields_read`` is not None, see ``_fields_read``).
        """
        self.ensure_one()
        return (
            self.env.context.get("lead_scoring_full_evaluation")
            or not self.date_full_evaluation
            or self.evaluated_domain != repr(domain)
            or fields_read is None
        )

    def _fields_read(self, domain):
        """The record's own fields whose changes can change the result of the
        domain (for a path, its first field), or None when some change cannot
        be traced back to the record (see ``_domain_triggers``)."""
        triggers = self._domain_triggers(domain)
        if triggers is None:
            return None
        return {field_name for _model, field_name, path in triggers if not path}

    def _domain_triggers(self, domain):
        """The changes that can change the result of the domain on a record
        (see ``_triggers_of``)."""
        self.ensure_one()
        return self._triggers_of(self._target_records(), domain)

    @api.model
    def _triggers_of(self, records, domain):
        """The changes that can change the result of ``domain`` on ``records``:
        ``{(model name, field name, path from the record)}``, path "" for the
        record's own fields; None when some cannot be traced back to the record
        (a hierarchy, a one2many, a field that is not stored)."""
        triggers = set()
        for leaf in domain:
            if not isinstance(leaf, list | tuple) or len(leaf) != 3:
                continue  # '&', '|', '!'
            path, operator = leaf[0], leaf[1]
            if operator in RELATIONAL_OPERATORS or not isinstance(path, str):
                return None
            found = self._path_triggers(records, path.split("."), "", stored_only=True)
            if found is None:
                return None
            triggers |= found
        return triggers

    @api.model
    def _path_triggers(self, records, names, prefix, seen=frozenset(), stored_only=False):
        """Triggers of the field path ``names`` read from ``records``, which the
        scored record reaches through ``prefix``. Only many2one fields may
        lead on: the ORM reports their change on the record that holds them."""
        field = records._fields.get(names[0])
        if field is None or (stored_only and not field.store):
            return None
        triggers = self._field_triggers(records, field, prefix, seen)
        if triggers is None or len(names) == 1:
            return triggers
        if field.type != "many2one" or not field.store:
            return None
        further = self._path_triggers(
            records.env[field.comodel_name],
            names[1:],
            f"{prefix}.{field.name}" if prefix else field.name,
            seen,
            stored_only,
        )
        return None if further is None else triggers | further

    @api.model
    def _field_triggers(self, records, field, prefix, seen=frozenset()):
        """Triggers of the value of ``field`` on ``records``: the field itself,
        or what it is computed from."""
        if (
            field.type == "one2many"
            or field.company_dependent
            or records.pool.field_depends_context[field]
        ):
            return None
        key = (records._name, field.name, prefix)
        if key in seen:
            return set()  # a computation cycle, already being followed
        if any(seen_key[:2] == key[:2] for seen_key in seen):
            return None  # computed from itself on related records (a hierarchy)
        if not (field.compute or field.related):
            return {key} if field.store else None
        # A computed field may also be written (an inverse): watch it too.
        triggers = {key} if field.store else set()
        for dependency in records.pool.field_depends[field]:
            found = self._path_triggers(records, dependency.split("."), prefix, seen | {key})
            if found is None:
                return None
            triggers |= found
        return triggers

    @api.model
    @tools.ormcache()
    def _active_triggers(self):
        """What the active rules of active models must hear of, read once:
        ``(watched, related)`` with ``watched = {target: field names of the
        scored record}`` (``ALWAYS_WATCHED`` included) and ``related =
        {model name: {field name: ((target, path, first field of the path),
        ...)}}`` for changes of records the scored records point to."""
        if not sql.table_exists(self.env.cr, self._table):
            return {}, {}  # the addon is being uninstalled: its tables are gone
        # Drafts score nothing: their rules and segments are not watched.
        rules = (
            self.sudo()
            .with_context(active_test=True)
            .search([("model_id.active", "=", True), ("model_id.state", "=", "live")])
        )
        # A segment decides which model gives the primary score, rules or not.
        segments = (
            self.env["lead.scoring.model"]
            .sudo()
            .search([("domain", "not in", ("[]", "")), ("state", "=", "live")])
        )
        domains = [(r.model_id.target, r._target_records(), r._match_domain) for r in rules]
        domains += [(m.target, m._target_records(), m._scope_domain) for m in segments]
        watched = defaultdict(lambda: set(ALWAYS_WATCHED))
        related = defaultdict(lambda: defaultdict(set))
        rollups = (
            self.env["lead.scoring.model"]
            .sudo()
            .search([("rollup", "!=", "none"), ("state", "=", "live")])
        )
        for target in set(rollups.mapped("target")):
            # The fields a roll-up reads besides the scores (res.partner says which).
            records = self.env["lead.scoring.model"]._target_records_for(target)
            watched[target].update(getattr(records, "_lead_scoring_rollup_watched", ()))
        for target, records, domain in domains:
            try:
                found = self._triggers_of(records, domain()) or ()
            except DOMAIN_ERRORS:
                continue  # a broken rule: the engine logs it and skips it
            for model_name, field_name, path in found:
                if path:
                    related[model_name][field_name].add((target, path, path.split(".")[0]))
                else:
                    watched[target].add(field_name)
        return (
            {target: frozenset(names) for target, names in watched.items()},
            {
                model_name: {name: tuple(sorted(paths)) for name, paths in by_field.items()}
                for model_name, by_field in related.items()
            },
        )

    def _diff_sql(self, domains, now, changed_ids=None, id_range=None):
        """The rule diff statement (``engine.rule_diff_sql``) of these rules of
        one scoring model, on the records of ``changed_ids`` and of
        ``id_range`` (None: all).

        :param domains: ``{rule: its match domain}``
        """
        records = self[:1]._target_records()
        record_id = SQL.identifier(records._table, "id")
        matches = []
        for rule in self:
            match = records._search(domains[rule])
            if changed_ids is not None:
                match.add_where(SQL("%s = ANY(%s)", record_id, changed_ids))
            if id_range is not None:
                match.add_where(SQL("TRUE %s", id_range_sql(record_id, id_range)))
            matches.append(match.select(SQL("%s", rule.id), record_id))
        return rule_diff_sql(
            self,
            self._awards(now),
            SQL(" UNION ALL ").join(matches),
            now,
            changed_ids,
            id_range=id_range,
        )

    def _awards(self, now):
        """``[(rule id, points, reason, expiry or False)]`` of lines opened ``now``."""
        return [
            (
                rule.id,
                rule.points,
                rule._reason(),
                expire_date_from(now, rule.expire_after, rule.expire_unit),
            )
            for rule in self
        ]

    def _close_open_lines(self):
        """Close the open lines of these rules (rule archived, moved or deleted).

        Like the rule engine's closings, the lines keep their ``write_uid``:
        setting it would check each closed line's foreign key to ``res_users``.
        """
        if not self.ids:
            return
        self.env["lead.scoring.point"].flush_model()
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """
                UPDATE lead_scoring_point
                   SET closed_date = %(now)s, is_live = FALSE, write_date = %(now)s
                 WHERE rule_id IN %(rules)s AND closed_date IS NULL
                """,
                now=now,
                rules=tuple(self.ids),
            )
        )
        if self.env.cr.rowcount:
            self.env["lead.scoring.model"]._mark_scores_dirty(self.model_id.ids)
        self.env["lead.scoring.point"].invalidate_model(["closed_date", "is_live", "write_date"])

    def _reaward_open_lines(self, now, reasons=None):
        """Close the open lines of these rules and reopen each at the rule's
        current points, for the same record (the scoring lab changed the
        points, a draft was published): one statement per scoring model, one
        pass over the ledger. The new line keeps the old one's expiry, so
        changing points never prolongs them; it is dated ``now``, so that the
        score at a past closing still counts the old line. Like the rule
        engine's lines, they carry no user: each would cost two foreign-key
        checks. Scores are left to the caller to refresh.

        :param reasons: ``{rule id: reason of the new lines}`` (default: the lab's)
        """
        if not self.ids:
            return
        self.env["lead.scoring.point"].flush_model()
        reasons = reasons or {}
        for scoring_model, rules in self.grouped("model_id").items():
            terms = SQL(", ").join(
                SQL(
                    "(%s, %s::float8, %s::varchar)",
                    rule.id,
                    rule.points,
                    reasons.get(rule.id)
                    or self.env._(
                        "Rule: %(rule)s (points changed by the scoring lab)", rule=rule.name
                    ),
                )
                for rule in rules
            )
            self.env.cr.execute(
                SQL(
                    """
                    WITH terms(rule_id, points, reason) AS (VALUES %(terms)s),
                    closed AS (
                        UPDATE lead_scoring_point p
                           SET closed_date = %(now)s, is_live = FALSE, write_date = %(now)s
                          FROM terms
                         WHERE p.rule_id = terms.rule_id AND p.closed_date IS NULL
                     RETURNING p.rule_id, p.%(column)s AS target_id, p.expire_date,
                               terms.points, terms.reason
                    )
                    INSERT INTO lead_scoring_point (
                        model_id, rule_id, %(column)s, points, multiplier, source, reason,
                        date, expire_date, is_live, create_date, write_date)
                    SELECT %(model)s, closed.rule_id, closed.target_id, closed.points, 1.0,
                           'rule', closed.reason, %(now)s, closed.expire_date,
                           closed.expire_date IS NULL OR closed.expire_date > %(now)s,
                           %(now)s, %(now)s
                      FROM closed
                    """,
                    terms=terms,
                    column=SQL.identifier(scoring_model._target_column()),
                    model=scoring_model.id,
                    now=now,
                )
            )
        self.env["lead.scoring.model"]._mark_scores_dirty(self.model_id.ids)
        self.env["lead.scoring.point"].invalidate_model()

    @api.model
    def _trigger_recompute(self):
        """Ask the recompute cron to run soon: rule changes show without waiting."""
        cron = self.env.ref("lead_scoring.ir_cron_recompute_scores", raise_if_not_found=False)
        if cron:
            cron.sudo()._trigger()
