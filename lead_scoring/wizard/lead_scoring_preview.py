import logging
from collections import Counter

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.fields import Command
from odoo.tools import SQL

from .. import lab_math
from ..domains import DOMAIN_ERRORS
from ..engine import band_sql, decayed_points_sql, model_clamp_sql
from .lead_scoring_lab import _scored, _totals, _without_jit

_logger = logging.getLogger(__name__)


# What publishing a draft would do to each record of the live model, by band
# pair (see ``lead.scoring.preview._population_sql``).
POPULATION_QUERY = """
    WITH totals AS MATERIALIZED (
        SELECT target_id, SUM(value) AS total, SUM(value_new) AS total_new,
               SUM(rollup) AS rollup
          FROM (
            SELECT p.%(column)s AS target_id, %(value)s AS value,
                   %(value_new)s AS value_new, NULL::float8 AS rollup
              FROM lead_scoring_point p
             WHERE p.model_id = %(live)s AND p.closed_date IS NULL
               AND (p.expire_date IS NULL OR p.expire_date > %(now)s)
             UNION ALL
            SELECT s.%(column)s, 0.0, 0.0, s.rollup_score
              FROM lead_scoring_score s
             WHERE s.model_id = %(live)s
          ) rows
         GROUP BY target_id
    ), lines AS MATERIALIZED (
        SELECT p.rule_id, p.%(column)s AS target_id,
               %(value)s AS value, %(value_new)s AS value_new,
               COALESCE(p.expire_date <= %(now)s, FALSE) AS expired
          FROM lead_scoring_point p
         WHERE p.model_id = %(live)s AND p.rule_id IS NOT NULL
           AND p.closed_date IS NULL
    ), live_rules AS (
        SELECT target_id, SUM(value) AS points, SUM(value_new) AS points_new
          FROM lines WHERE NOT expired GROUP BY target_id
    ), terms(rule_id, origin_id, points, reaward) AS (VALUES %(terms)s),
    matching(rule_id, target_id) AS MATERIALIZED (%(matching)s),
    draft_rules AS (
        SELECT m.target_id,
               SUM(CASE WHEN o.target_id IS NULL THEN t.points
                        WHEN o.expired THEN 0.0
                        WHEN t.reaward THEN t.points
                        ELSE o.value_new END) AS points
          FROM matching m
          JOIN terms t ON t.rule_id = m.rule_id
          LEFT JOIN lines o ON o.rule_id = t.origin_id AND o.target_id = m.target_id
         GROUP BY m.target_id
    ), population AS (
        SELECT COALESCE(tt.target_id, d.target_id) AS target_id,
               tt.target_id IS NOT NULL AS scored,
               %(own)s AS own,
               %(own_new)s - COALESCE(l.points_new, 0.0) AS behaviour_new,
               COALESCE(l.points, 0.0) AS live_points,
               COALESCE(d.points, 0.0) AS draft_points
          FROM totals tt
          LEFT JOIN live_rules l ON l.target_id = tt.target_id
          FULL JOIN draft_rules d ON d.target_id = tt.target_id
    ), scored AS (
        SELECT p.target_id, p.scored,
               ROUND((p.draft_points - p.live_points)::numeric, 4) AS delta,
               ROUND((%(current)s)::numeric, 4)::float8 AS current_score,
               ROUND((%(new)s)::numeric, 4)::float8 AS new_score
          FROM population p
    ), moved AS (
        SELECT s.*, COALESCE(r.active, FALSE) AS active,
               CASE WHEN s.scored THEN %(band_from)s END AS band_from,
               %(band_to)s AS band_to
          FROM scored s
          LEFT JOIN %(table)s r ON r.id = s.target_id
    )
    SELECT band_from, band_to, count(*),
           count(*) FILTER (WHERE delta <> 0),
           count(*) FILTER (WHERE delta > 0),
           count(*) FILTER (WHERE delta < 0),
           count(*) FILTER (WHERE active AND EXISTS (
               SELECT 1 FROM unnest(%(up)s::float8[]) v(score)
                WHERE current_score < v.score AND new_score >= v.score)),
           count(*) FILTER (WHERE active AND EXISTS (
               SELECT 1 FROM unnest(%(down)s::float8[]) v(score)
                WHERE current_score >= v.score AND new_score < v.score))
      FROM moved
     GROUP BY band_from, band_to
"""


class LeadScoringPreview(models.TransientModel):
    """What publishing a draft scoring model would do, computed at once and
    changing nothing: how many records' rule points change, which thresholds
    they would cross, how the bands fill, and how well the live and the draft
    rules tell won from lost opportunities.

    Set-based: each draft rule's domain is one subquery, evaluated once over
    the records the draft scores; the population is aggregated in SQL, one
    row per pair of bands.
    """

    _name = "lead.scoring.preview"
    _description = "Scoring Model Preview"

    draft_id = fields.Many2one(
        "lead.scoring.model",
        required=True,
        readonly=True,
        ondelete="cascade",
        help="The draft previewed: publishing or deleting it deletes the preview.",
    )
    model_id = fields.Many2one(
        "lead.scoring.model",
        "Live Model",
        required=True,
        readonly=True,
        ondelete="cascade",
        help="The live model the draft would replace.",
    )
    records_changed = fields.Integer(
        "Records Changing",
        readonly=True,
        help="Records whose points from rules would change.",
    )
    records_up = fields.Integer(
        "Records Gaining", readonly=True, help="Records that would get more points from rules."
    )
    records_down = fields.Integer(
        "Records Losing", readonly=True, help="Records that would get fewer points from rules."
    )
    crossings_up = fields.Integer(
        "Lifted Over a Threshold",
        readonly=True,
        help="Active records that publishing would lift to or over a rising threshold of the "
        "draft they are below now.",
    )
    crossings_down = fields.Integer(
        "Dropped Below a Threshold",
        readonly=True,
        help="Active records that publishing would drop below a falling threshold of the "
        "draft they are at or over now.",
    )
    band_move_ids = fields.One2many(
        "lead.scoring.preview.band.move", "preview_id", string="Band Moves", readonly=True
    )
    rule_change_ids = fields.One2many(
        "lead.scoring.preview.rule.change", "preview_id", string="Rule Changes", readonly=True
    )
    won_count = fields.Integer(
        "Won",
        readonly=True,
        help="Opportunities won in the last 12 months, the ROC AUC is measured on.",
    )
    lost_count = fields.Integer(
        "Lost",
        readonly=True,
        help="Opportunities lost in the last 12 months, the ROC AUC is measured on.",
    )
    auc_live = fields.Float(
        "ROC AUC Now",
        digits=(3, 2),
        readonly=True,
        help="How well the live model's rule points tell the won from the lost outcomes of the "
        "last 12 months: the chance that a won one scores higher than a lost one (0.5 = a "
        "coin toss, 1 = perfect). Rules are evaluated on the records as they are now, as "
        "the scoring lab does. 0 without won and lost outcomes.",
    )
    auc_draft = fields.Float(
        "ROC AUC of the Draft",
        digits=(3, 2),
        readonly=True,
        help="The same measure for the draft's rule points.",
    )
    fire_thresholds = fields.Boolean(
        default=True,
        help="On: records the change lifts over a threshold fire it on the next run, as "
        "usual (deals created, activities scheduled). Off: they are marked as over it "
        "without firing, so a change of points does not flood the team with deals.",
    )
    summary = fields.Char(compute="_compute_summary")

    @api.depends("model_id.name", "draft_id.name")
    def _compute_display_name(self):
        for preview in self:
            preview.display_name = self.env._(
                "Preview: %(model)s", model=preview.model_id.name or preview.draft_id.name
            )

    @api.depends("won_count", "lost_count")
    def _compute_summary(self):
        for preview in self:
            preview.summary = preview._auc_note()

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    @api.model
    def _open_for(self, draft):
        """Compute the preview of ``draft`` (a draft scoring model) and return
        the action that opens it."""
        draft.ensure_one()
        self._check_manager()
        draft.check_access("read")
        if draft.state != "draft" or not draft.live_model_id:
            raise UserError(
                self.env._(
                    'Scoring model "%(model)s" is not a draft: there is nothing to preview.',
                    model=draft.name,
                )
            )
        preview = self.create(self._preview_values(draft))
        return {
            "type": "ir.actions.act_window",
            "name": preview.display_name,
            "res_model": self._name,
            "res_id": preview.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {"dialog_size": "extra-large"},
        }

    def action_publish(self):
        """Publish the draft (``lead.scoring.model._publish_draft``) and open
        the live model."""
        self.ensure_one()
        self._check_manager()
        draft = self.draft_id
        live = self.model_id
        draft._publish_draft(self.fire_thresholds, auc_note=self._auc_note(with_auc=True))
        return {
            "type": "ir.actions.act_window",
            "res_model": live._name,
            "res_id": live.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "main",
        }

    # ------------------------------------------------------------------
    # Computation
    # ------------------------------------------------------------------

    def _check_manager(self):
        if not self.env.user.has_group("lead_scoring.group_lead_scoring_manager"):
            raise AccessError(self.env._("Only lead scoring managers can preview and publish."))

    @api.model
    def _preview_values(self, draft):
        """Every figure of the preview of ``draft``, as values to create it with."""
        live = draft.live_model_id
        values = {
            "draft_id": draft.id,
            "model_id": live.id,
            "rule_change_ids": [Command.create(v) for v in self._rule_change_values(draft, live)],
        }
        values.update(self._population_values(draft, live))
        values.update(self._auc_values(draft, live))
        return values

    @api.model
    def _rule_change_values(self, draft, live):
        """The rules the draft adds, removes or changes, matched by origin."""
        live_rules = live.rule_ids.filtered("active")
        draft_rules = draft.rule_ids.filtered("active").sorted(lambda r: (r.sequence, r.id))
        values = []
        for rule in draft_rules:
            origin = rule.origin_rule_id
            if origin not in live_rules:
                values.append({"name": rule.name, "change": "added", "new_points": rule.points})
                continue
            details = []
            if rule.points != origin.points:
                details.append(self.env._("points"))
            if rule.domain != origin.domain:
                details.append(self.env._("filter"))
            if (rule.expire_after, rule.expire_unit if rule.expire_after else False) != (
                origin.expire_after,
                origin.expire_unit if origin.expire_after else False,
            ):
                details.append(self.env._("expiry"))
            if rule.name != origin.name:
                details.append(self.env._("renamed from %(name)s", name=origin.name))
            if details:
                values.append(
                    {
                        "name": rule.name,
                        "change": "changed",
                        "old_points": origin.points,
                        "new_points": rule.points,
                        "detail": ", ".join(details),
                    }
                )
        kept = draft_rules.origin_rule_id
        for rule in live_rules.sorted(lambda r: (r.sequence, r.id)):
            if rule not in kept:
                values.append({"name": rule.name, "change": "removed", "old_points": rule.points})
        for sequence, value in enumerate(values):
            value["sequence"] = sequence
        return values

    @api.model
    def _population_values(self, draft, live):
        """Records changed, up and down, threshold crossings and band moves:
        one statement, aggregated per (band now, band after)."""
        now = fields.Datetime.now()
        self.env.flush_all()  # the rules' fields and the ledger, read below in SQL
        statement = self._population_sql(draft, live, now)
        try:
            # The savepoint inside: a failed statement is rolled back before
            # the JIT setting is restored.
            with _without_jit(self.env.cr), self.env.cr.savepoint(flush=False):
                self.env.cr.execute(statement)
                groups = self.env.cr.fetchall()
        except DOMAIN_ERRORS as error:
            raise UserError(
                self.env._(
                    "A filter of the draft cannot be evaluated on the records: %(error)s",
                    error=error,
                )
            ) from error
        bands = self.env["lead.scoring.band"].browse(
            {band_id for row in groups for band_id in row[:2] if band_id}
        )
        names = {band.id: band.name for band in bands}
        moves = Counter()
        totals = [0] * 5
        for band_from, band_to, count, *counts in groups:
            totals = [total + value for total, value in zip(totals, counts, strict=True)]
            key = (names.get(band_from, ""), names.get(band_to, ""))
            if key[0] != key[1]:
                moves[key] += count
        return {
            "records_changed": totals[0],
            "records_up": totals[1],
            "records_down": totals[2],
            "crossings_up": totals[3],
            "crossings_down": totals[4],
            "band_move_ids": [
                Command.create({"band_from": band_from, "band_to": band_to, "count": count})
                for (band_from, band_to), count in sorted(
                    moves.items(), key=lambda item: (-item[1], item[0])
                )
            ],
        }

    @api.model
    def _population_sql(self, draft, live, now):
        """``(band now, band after, records, changed, up, down, crossings up,
        crossings down)`` per pair of bands, over every record the live model
        scores or the draft's rules match (``POPULATION_QUERY``).

        A record's score after publishing = the sum of its live lines (as
        the engine sums them, ``engine.score_totals_sql``) - what its live
        rule lines give + what the draft's rules would give, clamped. The
        behaviour points (automations, manual, API) are the same on both
        sides; the draft's settings (decay, clamp) apply after publishing, as
        publishing copies them. The draft's rule points are those publishing
        leaves: a draft rule whose live rule keeps its points keeps the open
        line (its value, decay included); changed points re-award the open
        line at the new points, dated now; an open line that expired stays
        expired; a record without an open line of the rule gets its points.
        """
        records = draft._target_records()
        matches, terms = self._draft_rule_terms(draft, live, records)
        thresholds = draft.threshold_ids.filtered("active")

        def own(scoring_model, total):
            # A company's roll-up of its contacts stays as it is.
            if scoring_model.rollup == "none":
                return SQL("COALESCE(%s, 0.0)", total)
            return SQL("COALESCE(%s, 0.0) + COALESCE(tt.rollup, 0.0)", total)

        return SQL(
            POPULATION_QUERY,
            column=SQL.identifier(live._target_column()),
            value=decayed_points_sql(live, now),
            value_new=decayed_points_sql(draft, now),
            now=now,
            live=live.id,
            terms=SQL(", ").join(terms),
            matching=SQL(" UNION ALL ").join(matches),
            own=own(live, SQL("tt.total")),
            own_new=own(draft, SQL("tt.total_new")),
            current=model_clamp_sql(live, SQL("p.own")),
            new=model_clamp_sql(draft, SQL("p.behaviour_new + p.draft_points")),
            band_from=band_sql(live.id, SQL("s.current_score")),
            band_to=band_sql(draft.id, SQL("s.new_score")),
            table=SQL.identifier(records._table),
            up=[t.score for t in thresholds if t.direction == "up"],
            down=[t.score for t in thresholds if t.direction == "down"],
        )

    def _draft_rule_terms(self, draft, live, records):
        """``(matches, terms)``: for each active rule of the draft, the query
        of the records it matches ``(rule id, record id)`` and its VALUES row
        ``(rule id, live rule id, points, re-awarded)``."""
        record_id = SQL.identifier(records._table, "id")
        draft_rules = draft.rule_ids.filtered("active").sorted(lambda r: (r.sequence, r.id))
        live_rules = live.rule_ids.filtered("active")
        matches, terms = [], []
        for rule in draft_rules:
            try:
                query = records._search(rule._match_domain())
            except DOMAIN_ERRORS as error:
                raise UserError(
                    self.env._(
                        'The filter of rule "%(rule)s" cannot be evaluated: %(error)s',
                        rule=rule.name,
                        error=error,
                    )
                ) from error
            matches.append(query.select(SQL("%s", rule.id), record_id))
            origin = rule.origin_rule_id
            origin = origin if origin in live_rules else origin.browse()
            terms.append(
                SQL(
                    "(%s, %s::int, %s::float8, %s)",
                    rule.id,
                    origin.id or None,
                    rule.points,
                    bool(origin) and origin.points != rule.points,
                )
            )
        if not matches:
            matches = [SQL("SELECT NULL::int, NULL::int WHERE FALSE")]
            terms = [SQL("(NULL::int, NULL::int, NULL::float8, FALSE)")]
        return matches, terms

    @api.model
    def _auc_values(self, draft, live):
        """Won and lost outcomes of the last 12 months and the ROC AUC of the
        live and the draft rule points on them, measured as the scoring lab
        measures the current points: each rule's hits on the outcomes as they
        are now (``lead.scoring.lab._build_outcomes``, one statement), the
        points summed per distinct hit pattern."""
        values = {"won_count": 0, "lost_count": 0, "auc_live": 0.0, "auc_draft": 0.0}
        if live._lab_outcomes_sql(None, None) is None:
            return values  # a target without won and lost outcomes
        lab = self.env["lead.scoring.lab"].sudo().new({"model_id": live.id})
        records = lab._target_records()
        live_rules = live.rule_ids.filtered("active")
        draft_rules = draft.rule_ids.filtered("active")
        rules = []
        for rule in live_rules | draft_rules:
            try:
                rules.append((rule, records._search(rule._match_domain())))
            except DOMAIN_ERRORS:
                _logger.warning("Preview: rule %s skipped, its domain cannot be evaluated", rule.id)
        with _without_jit(self.env.cr):
            lab._build_outcomes(rules)
            patterns, _date = lab._read_patterns()
        patterns = patterns["train"] + patterns["test"]
        rule_ids = [rule.id for rule, _query in rules]
        won, lost = _totals(patterns)
        values.update(won_count=won, lost_count=lost)
        for field_name, scored_rules in (("auc_live", live_rules), ("auc_draft", draft_rules)):
            points = {rule.id: rule.points for rule in scored_rules}
            values[field_name] = lab_math.roc_auc(_scored(patterns, rule_ids, points)) or 0.0
        return values

    def _auc_note(self, with_auc=False):
        """The outcomes the ROC AUC is measured on, and with ``with_auc`` both
        values (the note publishing leaves in the chatter)."""
        self.ensure_one()
        if not (self.won_count and self.lost_count):
            return self.env._(
                "%(won)s won and %(lost)s lost opportunities closed in the last 12 months: "
                "both kinds are needed to measure the ROC AUC.",
                won=self.won_count,
                lost=self.lost_count,
            )
        if not with_auc:
            return self.env._(
                "Measured on the %(won)s won and %(lost)s lost opportunities closed in the "
                "last 12 months.",
                won=self.won_count,
                lost=self.lost_count,
            )
        return self.env._(
            "ROC AUC on the %(won)s won and %(lost)s lost opportunities closed in the last "
            "12 months: %(live).2f with the live rules, %(draft).2f with the draft's.",
            won=self.won_count,
            lost=self.lost_count,
            live=self.auc_live,
            draft=self.auc_draft,
        )
