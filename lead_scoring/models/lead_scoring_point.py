import math
from datetime import timedelta

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError
from odoo.tools import SQL

from ..engine import decayed_points_sql, find_targets
from ..expiry import expire_date_from

# Closed and expired lines older than this many days are removed (0 = kept forever).
RETENTION_PARAM = "lead_scoring.ledger_retention_days"
DEFAULT_RETENTION_DAYS = 730

# Behaviour points are graded (who acts weighs more); rule and manual points are not.
GRADED_SOURCES = ("action", "api")

SOURCES = [
    ("rule", "Rule"),
    ("action", "Automation"),
    ("manual", "Manual"),
    ("api", "API"),
]


class LeadScoringPoint(models.Model):
    """The ledger: every point a record ever got, and why.

    Only the engine (superuser) writes or deletes lines. Managers may add
    manual lines; a correction is a counter-line, so the history stays whole.
    """

    _name = "lead.scoring.point"
    _description = "Scoring Ledger Line"
    _order = "date desc, id desc"
    _rec_name = "reason"

    # No index of its own: lead_scoring_point_changed_idx below starts with it.
    model_id = fields.Many2one(
        "lead.scoring.model",
        string="Scoring Model",
        required=True,
        ondelete="cascade",
    )
    target = fields.Selection(related="model_id.target")
    company_id = fields.Many2one(related="model_id.company_id")
    # auto_join: the multi-company record rule reads the scored record's
    # company through a join, not an IN over a million contacts' ids.
    partner_id = fields.Many2one(
        "res.partner", "Contact", ondelete="cascade", index="btree_not_null", auto_join=True
    )
    lead_id = fields.Many2one(
        "crm.lead", "Deal", ondelete="cascade", index="btree_not_null", auto_join=True
    )
    points = fields.Float(required=True, help="The points this line counts for (graded).")
    multiplier = fields.Float(
        default=1.0, help="Grade multiplier of an automation or API line; 1 when ungraded."
    )
    grade_id = fields.Many2one("lead.scoring.grade", ondelete="set null")
    points_detail = fields.Char("Points (detail)", compute="_compute_points_detail")
    source = fields.Selection(SOURCES, required=True, default="manual")
    # No index of its own: the engine reads a rule's open lines through the unique
    # (rule, record) index below, which a rule_id index would steal the plan from
    # (a scan of all the rule's lines instead of a lookup per changed record).
    rule_id = fields.Many2one("lead.scoring.rule", ondelete="set null")
    action_id = fields.Many2one(
        "ir.actions.server", "Adjust Score Action", ondelete="set null", index="btree_not_null"
    )
    reason = fields.Char(required=True)
    date = fields.Datetime(required=True, default=fields.Datetime.now)
    expire_date = fields.Datetime("Expires On")
    closed_date = fields.Datetime("Closed On")
    is_live = fields.Boolean(
        "Live",
        default=True,
        help="Counts in the score: not closed and not expired when the engine "
        "last evaluated the record.",
    )

    def init(self):
        # The ledger grows without end; these indexes serve the engine's hot queries.
        columns = [target.column for target in find_targets(self.env.registry).values()]
        # Each line scores exactly one record, of any registered target.
        self.env.cr.execute(
            SQL(
                """
                ALTER TABLE lead_scoring_point DROP CONSTRAINT IF EXISTS %(name)s;
                ALTER TABLE lead_scoring_point ADD CONSTRAINT %(name)s
                      CHECK (num_nonnulls(%(columns)s) = 1)
                """,
                name=SQL.identifier("lead_scoring_point_one_target"),
                columns=SQL(", ").join(SQL.identifier(column) for column in columns),
            )
        )
        # At most one open line per (rule, record): the rule engine's "one line
        # per matching episode" guaranteed by the database, even for two runs at once.
        # Also the index the rule diff (INSERT ... WHERE NOT EXISTS / close) probes.
        for column in columns:
            self.env.cr.execute(
                SQL(
                    """
                    CREATE UNIQUE INDEX IF NOT EXISTS %(index)s
                        ON lead_scoring_point (rule_id, %(column)s)
                     WHERE closed_date IS NULL AND rule_id IS NOT NULL
                       AND %(column)s IS NOT NULL
                    """,
                    index=SQL.identifier(f"lead_scoring_point_open_rule_{column}_uniq"),
                    column=SQL.identifier(column),
                )
            )
        # Live lines of a model, summed per record by every score refresh; partial
        # so that the dead history does not slow it down.
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS lead_scoring_point_live_idx
                ON lead_scoring_point (model_id, expire_date)
             WHERE closed_date IS NULL
            """
        )
        # A line's last change (its date, or its closing when closed): the records
        # whose score moved since a moment, which the trend filters compute
        # (insight.changed_targets_sql), as a range rather than a ledger scan.
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS lead_scoring_point_changed_idx
                ON lead_scoring_point (model_id, GREATEST(date, closed_date))
            """
        )

    @api.depends("points", "multiplier", "grade_id")
    def _compute_points_detail(self):
        for line in self:
            multiplier = line.multiplier or 1.0
            if multiplier == 1.0:
                line.points_detail = format(line.points, "+g")
            else:
                base = format(round(line.points / multiplier, 4), "+g")
                line.points_detail = (
                    f"{base} \u00d7 {multiplier:g} {line.grade_id.name or ''}".strip()
                )

    @api.constrains("points")
    def _check_points(self):
        for line in self:
            if not math.isfinite(line.points):
                raise ValidationError(self.env._("Points must be a finite number."))

    @api.constrains("model_id")
    def _check_target(self):
        # Lines are never rewritten: the scored record is checked at creation.
        for line in self:
            if line.model_id.state == "draft":
                raise ValidationError(
                    self.env._(
                        "Scoring model %(model)s is a draft: it scores nothing until published.",
                        model=line.model_id.name,
                    )
                )
            column = line.model_id._target_column()
            if not line[column]:
                raise ValidationError(
                    self.env._(
                        "A line of scoring model %(model)s must name a %(target)s.",
                        model=line.model_id.name,
                        target=dict(
                            line.model_id._fields["target"]._description_selection(self.env)
                        )[line.model_id.target],
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            # Managers may add manual lines; every other line is the engine's.
            if any(vals.get("source", "manual") != "manual" for vals in vals_list):
                raise AccessError(self.env._("Only the scoring engine can add this kind of line."))
            for vals in vals_list:
                vals.update(
                    date=fields.Datetime.now(), is_live=True, closed_date=False, rule_id=False
                )
        lines = super().create(vals_list)
        if self.env.context.get("lead_scoring_no_refresh"):
            # Bulk loads refresh later, at the latest in the next recompute.
            self.env["lead.scoring.model"]._mark_scores_dirty(lines.model_id.ids)
        else:
            lines._refresh_targets()
        return lines

    def write(self, vals):
        if not self.env.su:
            raise AccessError(self.env._("Ledger lines cannot be changed; add a counter-line."))
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_only_by_the_engine(self):
        if not self.env.su:
            raise AccessError(self.env._("Ledger lines cannot be deleted; add a counter-line."))

    @api.autovacuum
    def _gc_old_lines(self):
        """Remove closed and expired lines older than the retention period.

        An open rule line is kept even when expired: it is what stops the rule
        from awarding its points again while the record keeps matching.
        """
        days = int(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param(RETENTION_PARAM, DEFAULT_RETENTION_DAYS)
            or 0
        )
        if days <= 0:
            return 0
        cutoff = fields.Datetime.now() - timedelta(days=days)
        self.env.cr.execute(
            SQL(
                """
                DELETE FROM lead_scoring_point WHERE id IN (
                    SELECT id FROM lead_scoring_point
                     WHERE closed_date < %(cutoff)s
                        OR (source != 'rule' AND expire_date < %(cutoff)s)
                     LIMIT %(limit)s)
                """,
                cutoff=cutoff,
                limit=models.GC_UNLINK_LIMIT,
            )
        )
        deleted = self.env.cr.rowcount
        self.invalidate_model()
        return deleted

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------

    def _refresh_targets(self):
        """Bring the scores of these lines' records up to date, thresholds included."""
        lines = self.sudo()
        now = fields.Datetime.now()
        scores = lines.env["lead.scoring.score"]
        for scoring_model in lines.model_id:
            column = scoring_model._target_column()
            model_lines = lines.filtered(lambda line, m=scoring_model: line.model_id == m)
            changed = scores._refresh_scores(scoring_model, now, model_lines.mapped(f"{column}.id"))
            lines._after_scores_changed(scoring_model, changed)

    @api.model
    def _merge_lines(self, column, merged_ids, survivor_id, now):
        """Close the open rule lines of records merged away, then move all
        their lines to the survivor (see ``lead.scoring.mixin._lead_scoring_merge_into``).

        :return: ``{model id: (lines moved, live points moved)}``
        """
        column = SQL.identifier(column)
        self.env.cr.execute(
            SQL(
                """
                UPDATE lead_scoring_point
                   SET closed_date = %(now)s, is_live = FALSE,
                       write_date = %(now)s, write_uid = %(uid)s
                 WHERE %(column)s = ANY(%(merged)s) AND rule_id IS NOT NULL
                   AND closed_date IS NULL
                """,
                column=column,
                merged=merged_ids,
                now=now,
                uid=self.env.uid,
            )
        )
        self.env.cr.execute(
            SQL(
                """
                WITH moved AS (
                    UPDATE lead_scoring_point
                       SET %(column)s = %(survivor)s, write_date = %(now)s, write_uid = %(uid)s
                     WHERE %(column)s = ANY(%(merged)s)
                 RETURNING model_id, points, is_live
                )
                SELECT model_id, count(*), COALESCE(SUM(points) FILTER (WHERE is_live), 0)
                  FROM moved GROUP BY model_id
                """,
                column=column,
                survivor=survivor_id,
                merged=merged_ids,
                now=now,
                uid=self.env.uid,
            )
        )
        moved = {model_id: (count, points) for model_id, count, points in self.env.cr.fetchall()}
        self.invalidate_model()
        return moved

    @api.model
    def _demo_load_engagement(self, entries):
        """Demo data: engagement lines dated some days back, ``(contact id,
        points, reason, days ago, source)`` each, as automations and the API
        would have written them."""
        scoring_model = self.env.ref("lead_scoring.lead_scoring_model_demo_betrokkenheid")
        now = fields.Datetime.now()
        lines = (
            self.sudo()
            .with_context(lead_scoring_no_refresh=True)
            .create(
                [
                    {
                        "model_id": scoring_model.id,
                        "partner_id": partner_id,
                        "points": points,
                        "source": source,
                        "reason": reason,
                        "date": now - timedelta(days=days_ago),
                        "expire_date": now - timedelta(days=days_ago) + relativedelta(months=2),
                    }
                    for partner_id, points, reason, days_ago, source in entries
                ]
            )
        )
        lines._refresh_targets()

    @api.model
    def _add_points(
        self, scoring_model, awards, source, *, expire_after=0, expire_unit="months",
        action=None, in_segment=False,
    ):  # fmt: skip
        """Add one ledger line per award and bring the affected scores up to date.

        The lines are inserted by the same statement that recomputes the
        scores: the Adjust-score runner's hot path stays at a couple of
        queries per triggering record.

        :param awards: list of ``(target_id, points, reason)``, or
            ``(target_id, points, reason, date)`` for points earned earlier
            (an event's ``occurred_at``, a page view made while anonymous):
            the line is dated then and expires counting from then.
        :param in_segment: the caller kept only records inside the model's
            segment (``ir.actions.server._lead_scoring_award``)
        :return: ``{target_id: points written}`` (graded), without the
            targets outside the model's segment
        """
        if scoring_model.state == "draft":
            return {}  # drafts score nothing
        if not in_segment:
            inside = scoring_model._ids_in_segment({award[0] for award in awards})
            awards = [award for award in awards if award[0] in inside]
        if not awards:
            return {}
        now = fields.Datetime.now()
        target_ids = [award[0] for award in awards]
        dates = [award[3] if len(award) > 3 and award[3] else now for award in awards]
        grades = {}
        if source in GRADED_SOURCES:
            grades = self.env["lead.scoring.grade"]._grade_targets(scoring_model, set(target_ids))
        multipliers = [grades[t].multiplier if t in grades else 1.0 for t in target_ids]
        points = [award[1] * factor for award, factor in zip(awards, multipliers, strict=True)]
        new_lines = self._new_lines_sql(
            scoring_model,
            now,
            source,
            action,
            {
                "targets": target_ids,
                "points": points,
                "multipliers": multipliers,
                "grades": [grades[t].id if t in grades else None for t in target_ids],
                "reasons": [award[2] for award in awards],
                "dates": dates,
                "expires": [
                    expire_date_from(date, expire_after, expire_unit) or None for date in dates
                ],
            },
        )
        scores = self.env["lead.scoring.score"].sudo()
        changed = scores._refresh_scores(scoring_model, now, set(target_ids), new_lines)
        self.invalidate_model()
        self._after_scores_changed(scoring_model, changed)
        return dict(zip(target_ids, points, strict=True))

    def _new_lines_sql(self, scoring_model, now, source, action, columns):
        """The statement inserting the ledger lines of ``columns`` (lists of
        targets, points, multipliers, grades, reasons, dates, expires) and
        returning what each counts for now, for the score refresh to add."""
        return SQL(
            """
            INSERT INTO lead_scoring_point AS p (
                model_id, %(column)s, points, multiplier, grade_id, source, reason, action_id,
                date, expire_date, is_live, create_uid, create_date, write_uid, write_date)
            SELECT %(model)s, award.target_id, award.points, award.multiplier, award.grade_id,
                   %(source)s, award.reason, %(action)s, award.date, award.expire_date,
                   award.expire_date IS NULL OR award.expire_date > %(now)s,
                   %(uid)s, %(now)s, %(uid)s, %(now)s
              FROM unnest(%(targets)s::int[], %(points)s::float8[], %(multipliers)s::float8[],
                          %(grades)s::int[], %(reasons)s::varchar[], %(dates)s::timestamp[],
                          %(expires)s::timestamp[])
                   AS award(target_id, points, multiplier, grade_id, reason, date, expire_date)
            RETURNING p.%(column)s, CASE WHEN p.is_live THEN %(value)s ELSE 0.0 END
            """,
            column=SQL.identifier(scoring_model._target_column()),
            # What a line dated in the past counts for now: nothing once
            # expired, less under decay (the score refresh reads it so).
            value=decayed_points_sql(scoring_model, now),
            model=scoring_model.id,
            source=source,
            action=action.id if action else None,
            now=now,
            uid=self.env.uid,
            **columns,
        )

    @api.model
    def _after_scores_changed(self, scoring_model, changed):
        """Copy changed scores to the records and fire the thresholds they crossed."""
        if changed:
            records = scoring_model._target_records()
            records._lead_scoring_write_scores(scoring_model, changed)
            records._lead_scoring_scores_changed(scoring_model, list(changed))
            thresholds = self.env["lead.scoring.threshold"]
            if scoring_model.id in thresholds._model_ids_with_thresholds():
                scoring_model.threshold_ids._fire_thresholds(list(changed))
