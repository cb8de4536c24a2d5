import contextlib
import json
import logging
import threading
from datetime import timedelta

from dateutil.relativedelta import relativedelta
from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.fields import Command
from odoo.tools import SQL, format_date

from .. import lab_math
from ..domains import DOMAIN_ERRORS
from ..engine import Recompute, model_clamp_sql, score_at_sql

_logger = logging.getLogger(__name__)

# The newest share of the outcomes (by closing date) the points are measured
# on; they are fitted on the older rest, so the AUC is an honest forecast.
TEST_SHARE = 0.3
# Pure Python fits ≤ 100 rules over aggregated hit patterns in seconds.
MAX_RULES = 100
# The temporary table of one analysis: the outcomes and the rules each hit.
OUTCOME_TABLE = "lead_scoring_lab_outcome"
# How long after a scheduled analysis a model is due again (by lab_interval).
LAB_INTERVALS = {"monthly": relativedelta(months=1), "quarterly": relativedelta(months=3)}
# The chatter subtype of the notes of scheduled analyses: the newest one's
# date is when the model was last analysed on schedule.
SCHEDULED_LAB_SUBTYPE = "lead_scoring.mt_scoring_lab_scheduled"
# Model health: the outcomes of this many last days are measured...
HEALTH_DAYS = 90
# ... and a fall of the ROC AUC by more than this since the lab was applied
# means the points no longer fit the deals being won: time to run the lab.
HEALTH_AUC_DROP = 0.05


class LeadScoringLab(models.TransientModel):
    """The scoring lab: learn a scoring model's points from the won and lost
    outcomes of a window of closing dates, discover the rules it lacks, and
    apply the result (points, re-awarded lines, win probability calibration).

    The outcomes are never read one by one: one statement puts them, with
    the rules each hits, in a temporary table; the fit works on the distinct
    hit patterns with their won and lost counts (``lab_math``).
    """

    _name = "lead.scoring.lab"
    _description = "Scoring Lab"

    model_id = fields.Many2one(
        "lead.scoring.model",
        string="Scoring Model",
        required=True,
        ondelete="cascade",
        domain=[("state", "=", "live")],
    )
    target = fields.Selection(related="model_id.target")
    date_from = fields.Date(
        "Closed From",
        required=True,
        default=lambda self: fields.Date.context_today(self) - relativedelta(months=12),
    )
    date_to = fields.Date("Closed Until", required=True, default=fields.Date.context_today)
    points_to_double_odds = fields.Float(
        "Points to Double the Odds",
        required=True,
        default=20.0,
        help="Scale of the suggested points: a record with this many more points is "
        "twice as likely to be won as lost (in odds).",
    )
    state = fields.Selection(
        [("draft", "To Analyse"), ("analysed", "Analysed"), ("applied", "Applied")],
        default="draft",
        required=True,
        readonly=True,
    )
    won_count = fields.Integer("Won", readonly=True)
    lost_count = fields.Integer("Lost", readonly=True)
    train_count = fields.Integer(
        "Fitted On", readonly=True, help="The older 70% of the outcomes, by closing date."
    )
    test_count = fields.Integer(
        "Measured On", readonly=True, help="The newest 30% of the outcomes, by closing date."
    )
    date_test_from = fields.Datetime(
        "Measured From", readonly=True, help="Closing date of the oldest measured outcome."
    )
    summary = fields.Char("Outcomes", compute="_compute_summary")
    auc = fields.Float(
        "ROC AUC of the Current Points",
        digits=(3, 2),
        readonly=True,
        help="The chance that a won outcome scores higher than a lost one "
        "(0.5 = a coin toss, 1 = perfect), measured on the newest 30% of the outcomes.",
    )
    suggested_auc = fields.Float(
        "ROC AUC of the Suggested Points",
        digits=(3, 2),
        compute="_compute_suggested_auc",
        store=True,
        help="The same measure for the suggested points (as edited), fitted on the "
        "older 70% of the outcomes and measured on the newest 30%.",
    )
    auc_measured = fields.Boolean(readonly=True)
    evaluation_note = fields.Char(readonly=True)
    evidence_thin = fields.Boolean(
        compute="_compute_evidence",
        help="The suggestion does not rank the newest outcomes better than the current "
        "points, or rests on too few outcomes to judge: applying it is not recommended.",
    )
    evidence_note = fields.Char(compute="_compute_evidence")
    intercept = fields.Float(
        "Log-Odds Without Any Rule",
        digits=(16, 4),
        readonly=True,
        help="Fitted log-odds of winning of a record that hits no rule.",
    )
    pattern_data = fields.Text(
        readonly=True,
        help="Technical: the distinct rule-hit patterns with their won and lost counts "
        "(JSON), older and newest outcomes apart.",
    )
    line_ids = fields.One2many("lead.scoring.lab.line", "lab_id", string="Rules")
    candidate_ids = fields.One2many(
        "lead.scoring.lab.candidate", "lab_id", string="Candidate Rules"
    )
    lift_ids = fields.One2many("lead.scoring.lab.lift", "lab_id", string="Lift Chart")

    @api.depends("model_id")
    def _compute_display_name(self):
        for lab in self:
            lab.display_name = self.env._("Scoring Lab: %(model)s", model=lab.model_id.name)

    @api.depends("won_count", "lost_count", "train_count", "test_count", "date_test_from")
    def _compute_summary(self):
        for lab in self:
            lab.summary = (lab.won_count or lab.lost_count) and self.env._(
                "%(won)s won, %(lost)s lost: fitted on the %(train)s older ones, measured on "
                "the %(test)s closed since %(date)s",
                won=lab.won_count,
                lost=lab.lost_count,
                train=lab.train_count,
                test=lab.test_count,
                date=format_date(self.env, lab.date_test_from),
            )

    @api.depends("pattern_data", "line_ids.suggested_points")
    def _compute_suggested_auc(self):
        for lab in self:
            data = lab._patterns()
            points = lab._line_points("suggested_points")
            auc = data and lab_math.roc_auc(_scored(data["test"], data["rules"], points))
            lab.suggested_auc = auc or 0.0

    @api.depends("state", "auc", "suggested_auc", "auc_measured", "train_count", "test_count")
    def _compute_evidence(self):
        for lab in self:
            note = False
            if lab.state == "analysed":
                too_few = min(lab.train_count, lab.test_count)
                if too_few < lab_math.MIN_OUTCOMES:
                    note = self.env._(
                        "Too little evidence: the suggestion is fitted on %(train)s and "
                        "measured on %(test)s outcomes; at least %(min)s each are needed "
                        "to judge it. Widen the window before applying.",
                        train=lab.train_count,
                        test=lab.test_count,
                        min=lab_math.MIN_OUTCOMES,
                    )
                elif not lab.auc_measured:
                    note = self.env._(
                        "The suggestion cannot be measured on unseen outcomes: "
                        "applying it is a guess."
                    )
                elif round(lab.suggested_auc, 2) <= round(lab.auc, 2):
                    note = self.env._(
                        "The suggestion gains nothing: ROC AUC %(auc).2f with the current "
                        "points, %(new).2f with the suggested ones.",
                        auc=lab.auc,
                        new=lab.suggested_auc,
                    )
            lab.evidence_thin = bool(note)
            lab.evidence_note = note

    @api.onchange("date_from", "date_to", "points_to_double_odds")
    def _onchange_window(self):
        # The analysis no longer matches what the form says.
        if self.state == "analysed":
            self.state = "draft"

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def action_analyse(self):
        """Analyse the rules on the outcomes of the window, discover candidate
        rules, and show both with the AUCs and the lift chart."""
        self.ensure_one()
        self._check_manager()
        self._check_window()
        values = self._analyse_rules()
        values["candidate_ids"] = [
            Command.create(candidate)
            for candidate in self._discover_candidates(json.loads(values["pattern_data"]))
        ]
        self.line_ids.unlink()
        self.candidate_ids.unlink()
        self.lift_ids.unlink()
        self.write(dict(values, state="analysed"))
        return True

    def action_apply(self):
        """Write the suggested points into the rules, re-award the open lines
        of the rules whose points changed, store the win probability
        calibration on the model and note it all in the model's chatter."""
        self.ensure_one()
        self._check_manager()
        if self.state != "analysed" or not self.line_ids:
            raise UserError(self.env._("Analyse the model first, then apply the suggestion."))
        scoring_model = self.model_id
        data = self._patterns()
        points = self._line_points("suggested_points")
        intercept, slope = lab_math.calibrate(
            _scored(data["train"] + data["test"], data["rules"], points)
        )
        changes = [
            (line.rule_id, line.rule_id.points, line.suggested_points)
            for line in self.line_ids
            if line.rule_id.exists() and line.rule_id.points != line.suggested_points
        ]
        now = fields.Datetime.now()

        def rewrite():
            for rule, _old, new in changes:
                rule.with_context(lead_scoring_lab_apply=True).points = new
            rules = self.env["lead.scoring.rule"].union(*(rule for rule, _o, _n in changes))
            rules._reaward_open_lines(now)
            # Before the refresh: it computes the win probabilities from these.
            scoring_model.write(
                {
                    "win_calibration_intercept": intercept,
                    "win_calibration_slope": slope,
                    "lab_auc": self.suggested_auc if self.auc_measured else 0.0,
                    "date_lab_applied": now,
                }
            )

        if not Recompute(scoring_model.sudo()).refresh(rewrite):
            raise UserError(
                self.env._("Scores are being recomputed right now. Try again in a minute.")
            )
        scoring_model.message_post(
            body=self._apply_note(changes, intercept, slope), subtype_xmlid="mail.mt_note"
        )
        self.state = "applied"
        return True

    def action_create_draft(self):
        """Create a draft of the model with the suggested points, instead of
        applying them: preview it, publish it or delete it. A model has at
        most one draft: when it has one, this refuses (the draft may hold
        someone's work) and says where it is."""
        self.ensure_one()
        self._check_manager()
        if self.state != "analysed" or not self.line_ids:
            raise UserError(
                self.env._("Analyse the model first, then create a draft with the suggestion.")
            )
        existing = self._existing_draft(self.model_id)
        if existing:
            raise UserError(
                self.env._(
                    'Scoring model "%(model)s" already has a draft, "%(draft)s". Publish or '
                    "delete it first, or change its points there.",
                    model=self.model_id.name,
                    draft=existing.name,
                )
            )
        draft = self._create_suggested_draft()
        self.model_id.message_post(body=self._draft_note(draft), subtype_xmlid="mail.mt_note")
        return draft._form_action()

    def action_open_lift_chart(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "lead_scoring.lead_scoring_lab_lift_action"
        )
        action["domain"] = [("lab_id", "=", self.id)]
        return action

    # ------------------------------------------------------------------
    # Analysis
    # ------------------------------------------------------------------

    def _check_manager(self):
        if not self.env.user.has_group("lead_scoring.group_lead_scoring_manager"):
            raise AccessError(self.env._("Only lead scoring managers can run the scoring lab."))

    def _check_window(self):
        if self.date_from > self.date_to:
            raise UserError(self.env._("The window ends before it starts."))
        if self.points_to_double_odds <= 0:
            raise UserError(self.env._("The points to double the odds must be above 0."))

    def _rules(self):
        """The active rules of the model, in order, with their ``Query``;
        a rule whose domain no longer evaluates is left out (and logged)."""
        rules = self.model_id.rule_ids.filtered("active").sorted(lambda r: (r.sequence, r.id))
        if len(rules) > MAX_RULES:
            raise UserError(
                self.env._(
                    "The lab analyses at most %(max)s rules; this model has %(count)s.",
                    max=MAX_RULES,
                    count=len(rules),
                )
            )
        records = self._target_records()
        usable = []
        for rule in rules:
            try:
                usable.append((rule, records._search(rule._match_domain())))
            except DOMAIN_ERRORS:
                _logger.warning(
                    "Scoring lab: rule %s skipped, its domain cannot be evaluated", rule.id
                )
        return usable

    def _target_records(self):
        """The scored records, archived ones included: lost deals are archived."""
        return self.model_id._target_records().with_context(active_test=False)

    def _build_outcomes(self, rules):
        """Put the outcomes of the window in a temporary table with, for each,
        whether it is among the newest 30% and the positions of the rules it
        hits: one statement, one hash join per rule."""
        outcomes = self.model_id._lab_outcomes_sql(
            fields.Datetime.to_datetime(self.date_from),
            fields.Datetime.to_datetime(self.date_to) + relativedelta(days=1),
        )
        hits = [
            SQL("CASE WHEN %s.id IS NOT NULL THEN %s END", SQL.identifier(f"h{i}"), i)
            for i in range(len(rules))
        ]
        joins = SQL(" ").join(
            SQL(
                "LEFT JOIN (%s) %s ON %s.id = o.id",
                query.select(),
                SQL.identifier(f"h{i}"),
                SQL.identifier(f"h{i}"),
            )
            for i, (_rule, query) in enumerate(rules)
        )
        self.env.flush_all()
        cr = self.env.cr
        cr.execute(SQL("DROP TABLE IF EXISTS %s", SQL.identifier(OUTCOME_TABLE)))
        cr.execute(
            SQL(
                """
                CREATE TEMPORARY TABLE %(table)s ON COMMIT DROP AS
                SELECT o.id, o.won, o.date_closed,
                       row_number() OVER (ORDER BY o.date_closed, o.id)
                           > ROUND(%(train_share)s * count(*) OVER ()) AS is_test,
                       %(hits)s AS hits,
                       NULL::float8 AS log_odds
                  FROM (%(outcomes)s) o %(joins)s
                """,
                table=SQL.identifier(OUTCOME_TABLE),
                train_share=1.0 - TEST_SHARE,
                hits=SQL("array_remove(ARRAY[%s]::int[], NULL)", SQL(", ").join(hits))
                if hits
                else SQL("'{}'::int[]"),
                outcomes=outcomes,
                joins=joins,
            )
        )
        # Discovery joins this table with the target's: give the planner its size.
        cr.execute(SQL("ANALYZE %s", SQL.identifier(OUTCOME_TABLE)))

    def _read_patterns(self):
        """``{"train": [...], "test": [...]}`` of ``[hits, won, lost]``: the
        distinct hit patterns of the older and the newest outcomes."""
        self.env.cr.execute(
            SQL(
                """
                SELECT hits, is_test, count(*) FILTER (WHERE won), count(*) FILTER (WHERE NOT won)
                  FROM %s GROUP BY hits, is_test
                """,
                SQL.identifier(OUTCOME_TABLE),
            )
        )
        patterns = {"train": [], "test": []}
        for hits, is_test, won, lost in self.env.cr.fetchall():
            patterns["test" if is_test else "train"].append([hits, won, lost])
        self.env.cr.execute(
            SQL("SELECT min(date_closed) FROM %s WHERE is_test", SQL.identifier(OUTCOME_TABLE))
        )
        return patterns, self.env.cr.fetchone()[0]

    def _analyse_rules(self):
        """Outcomes, rule hits, the fit and its measures, as values to write."""
        rules = self._rules()
        with _without_jit(self.env.cr):
            self._build_outcomes(rules)
            patterns, date_test_from = self._read_patterns()
        train, test = patterns["train"], patterns["test"]
        won, lost = _totals(train + test)
        self._check_outcomes(won, lost)
        rule_ids = [rule.id for rule, _query in rules]
        fit_on, note = train, False
        if 0 in _totals(train):
            # The older outcomes are all won (or all lost): nothing to learn
            # from them alone, and nothing left to measure on honestly.
            fit_on = train + test
            note = self.env._(
                "The older 70% of the outcomes are all won or all lost: the points are "
                "fitted on all outcomes and cannot be measured on unseen ones."
            )
        fit = lab_math.fit_logistic(
            [(_features(hits), won, lost) for hits, won, lost in fit_on], len(rules)
        )
        current = {rule.id: rule.points for rule, _query in rules}
        auc = lab_math.roc_auc(_scored(test, rule_ids, current))
        if not note and auc is None:
            note = self.env._(
                "The newest 30% of the outcomes are all won or all lost: "
                "the ROC AUC cannot be measured on them."
            )
        suggested = {
            rule_id: lab_math.scorecard_points(coefficient, self.points_to_double_odds)
            for rule_id, coefficient in zip(rule_ids, fit.coefficients, strict=True)
        }
        return {
            "won_count": won,
            "lost_count": lost,
            "train_count": sum(_totals(train)),
            "test_count": sum(_totals(test)),
            "date_test_from": date_test_from,
            "auc": auc or 0.0,
            "auc_measured": not note,
            "evaluation_note": note,
            "intercept": fit.intercept,
            "pattern_data": json.dumps(
                {
                    "rules": rule_ids,
                    "train": train,
                    "test": test,
                    "fit": [fit.intercept, fit.coefficients],
                    "fitted_on_all": fit_on is not train,
                }
            ),
            "line_ids": self._line_values(rules, train, test, suggested),
            "lift_ids": self._lift_values(test, rule_ids, current, suggested),
        }

    def _check_outcomes(self, won, lost):
        """Refuse to learn from too little: nothing is written."""
        if won + lost < lab_math.MIN_OUTCOMES:
            raise UserError(
                self.env._(
                    "Only %(count)s won or lost outcomes closed between %(start)s and %(end)s; "
                    "the lab needs at least %(min)s. Widen the window.",
                    count=won + lost,
                    start=self.date_from,
                    end=self.date_to,
                    min=lab_math.MIN_OUTCOMES,
                )
            )
        if not won or not lost:
            raise UserError(
                self.env._(
                    "Between %(start)s and %(end)s every outcome was %(kind)s: the lab "
                    "needs won and lost ones to tell them apart. Widen the window.",
                    start=self.date_from,
                    end=self.date_to,
                    kind=self.env._("won") if won else self.env._("lost"),
                )
            )

    def _line_values(self, rules, train, test, suggested):
        """One line per rule: its hits among won and lost, lift, suggestion."""
        positions = {rule.id: position for position, (rule, _query) in enumerate(rules)}
        hits = _hits_per_position(train + test, len(rules))
        train_hits = _hits_per_position(train, len(rules))
        won, lost = _totals(train + test)
        values = []
        for rule, _query in rules:
            won_hits, lost_hits = hits[positions[rule.id]]
            values.append(
                Command.create(
                    {
                        "rule_id": rule.id,
                        "current_points": rule.points,
                        "won_hits": won_hits,
                        "lost_hits": lost_hits,
                        "lift": lab_math.lift(won_hits, lost_hits, won, lost),
                        "suggested_points": suggested[rule.id],
                        "note": self._line_note(
                            won_hits, lost_hits, sum(train_hits[positions[rule.id]]), won + lost
                        ),
                    }
                )
            )
        return values

    def _line_note(self, won_hits, lost_hits, train_hits, total):
        if not won_hits and not lost_hits:
            return self.env._("No hits: nothing to learn.")
        if won_hits + lost_hits == total:
            return self.env._("Every outcome matches it: it tells nothing.")
        if not train_hits:
            return self.env._("No hit among the older 70% of the outcomes: nothing to fit on yet.")
        if not lost_hits or not won_hits:
            return self.env._(
                "All %(count)s hits %(kind)s: the points are capped by the regularisation.",
                count=won_hits + lost_hits,
                kind=self.env._("won") if won_hits else self.env._("lost"),
            )
        return False

    def _lift_values(self, test, rule_ids, current, suggested):
        """The lift chart: won rate per tenth of the newest outcomes, ranked
        by the current and by the suggested points."""
        values = []
        for series, points in (("current", current), ("suggested", suggested)):
            for decile, count, won, rate, lift in _whole_deciles(
                lab_math.lift_by_decile(_scored(test, rule_ids, points))
            ):
                values.append(
                    Command.create(
                        {
                            "series": series,
                            "decile": decile,
                            "outcome_count": count,
                            "won_count": won,
                            "won_rate": 100.0 * rate,
                            "lift": lift,
                        }
                    )
                )
        return values

    def _discover_candidates(self, data):
        with _without_jit(self.env.cr):
            return self.env["lead.scoring.lab.candidate"]._discover(self, data, OUTCOME_TABLE)

    # ------------------------------------------------------------------
    # Drafts and the scheduled lab
    # ------------------------------------------------------------------

    @api.model
    def _existing_draft(self, scoring_model):
        """The draft of a live scoring model, if it has one."""
        return (
            self.env["lead.scoring.model"]
            .with_context(active_test=False)
            .search([("live_model_id", "=", scoring_model.id), ("state", "=", "draft")], limit=1)
        )

    def _create_suggested_draft(self):
        """A draft of the model with every rule at its suggested points."""
        self.ensure_one()
        points = {line.rule_id.id: line.suggested_points for line in self.line_ids if line.rule_id}
        return self.model_id._create_draft(rule_points=points)

    def _draft_note(self, draft):
        """The chatter note of a draft made from the suggestion."""
        self.ensure_one()
        if self.auc_measured:
            quality = self.env._(
                "ROC AUC on the newest 30%% of the outcomes: %(auc).2f with the current "
                "points, %(new).2f with the suggested ones.",
                auc=self.auc,
                new=self.suggested_auc,
            )
        else:
            quality = self.evaluation_note or ""
        return Markup("<p>%s</p><p>%s</p>") % (
            self.env._(
                'Scoring lab: draft "%(draft)s" holds the suggested points. Preview it, then '
                "publish or delete it.",
                draft=draft.name,
            ),
            quality,
        )

    @api.model
    def _cron_scoring_lab(self):
        """Scheduled lab (cron ``lead_scoring.ir_cron_scoring_lab``): analyse
        every live scoring model whose ``lab_interval`` is due, and when the
        suggested points beat the current ones by at least ``lab_min_gain``
        (ROC AUC, measured as the lab measures), put them in a draft and
        schedule a To-Do for the model's responsible to review it. Never
        publishes. Each analysis leaves a note in the model's chatter, also
        when nothing came of it or it failed; a failing model does not stop
        the others.

        A model is due when its lab interval has passed since its last
        scheduled analysis: the date of its newest note of subtype
        ``SCHEDULED_LAB_SUBTYPE`` (none: due now).
        """
        scoring_models = (
            self.env["lead.scoring.model"]
            .sudo()
            .search([("state", "=", "live"), ("lab_interval", "in", list(LAB_INTERVALS))])
        )
        today = fields.Datetime.now().date()
        last = self._last_scheduled_labs(scoring_models)
        due = scoring_models.filtered(
            lambda m: m.id not in last or last[m.id].date() + LAB_INTERVALS[m.lab_interval] <= today
        )
        # Like the recompute cron: no intermediate commits under tests.
        commit = not getattr(threading.current_thread(), "testing", False)
        for done, scoring_model in enumerate(due, 1):
            self._run_scheduled_lab(scoring_model)
            if commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
                self.env["ir.cron"]._notify_progress(done=done, remaining=len(due) - done)
        return len(due)

    @api.model
    def _last_scheduled_labs(self, scoring_models):
        """``{model id: datetime}`` of the last scheduled analysis of each of
        ``scoring_models`` that had one: one grouped query."""
        subtype = self.env.ref(SCHEDULED_LAB_SUBTYPE, raise_if_not_found=False)
        if not subtype or not scoring_models:
            return {}
        return dict(
            self.env["mail.message"]
            .sudo()
            ._read_group(
                [
                    ("model", "=", "lead.scoring.model"),
                    ("res_id", "in", scoring_models.ids),
                    ("subtype_id", "=", subtype.id),
                ],
                ["res_id"],
                ["date:max"],
            )
        )

    @api.model
    def _run_scheduled_lab(self, scoring_model):
        """Analyse one model on schedule; note the result in its chatter."""
        lab = self.sudo().create({"model_id": scoring_model.id})
        try:
            with self.env.cr.savepoint():
                values = lab._analyse_rules()
                lab.write(dict(values, state="analysed"))
                body = lab._scheduled_result()
        except UserError as error:
            body = Markup("<p>%s</p><p>%s</p>") % (
                self.env._("Scheduled scoring lab: no analysis."),
                error.args[0],
            )
        except Exception as error:  # one model must not stop the others
            _logger.exception("Scheduled scoring lab failed for scoring model %s", scoring_model.id)
            body = Markup("<p>%s</p><p>%s</p>") % (
                self.env._("Scheduled scoring lab: the analysis failed."),
                str(error),
            )
        scoring_model.message_post(body=body, subtype_xmlid=SCHEDULED_LAB_SUBTYPE)
        lab.unlink()

    def _scheduled_result(self):
        """After a scheduled analysis: the draft (and the To-Do) when the
        suggestion gains enough; the chatter note that says what happened."""
        self.ensure_one()
        scoring_model = self.model_id
        min_gain = scoring_model.lab_min_gain
        intro = self.env._(
            "Scheduled scoring lab on the opportunities closed from %(start)s to %(end)s "
            "(%(won)s won, %(lost)s lost).",
            start=format_date(self.env, self.date_from),
            end=format_date(self.env, self.date_to),
            won=self.won_count,
            lost=self.lost_count,
        )
        if not self.auc_measured or min(self.train_count, self.test_count) < (
            lab_math.MIN_OUTCOMES
        ):
            return Markup("<p>%s</p><p>%s</p><p>%s</p>") % (
                intro,
                self.evidence_note or self.evaluation_note or "",
                self.env._("No draft was made."),
            )
        quality = self.env._(
            "ROC AUC on the newest 30%% of the outcomes: %(auc).2f with the current points, "
            "%(new).2f with the suggested ones.",
            auc=self.auc,
            new=self.suggested_auc,
        )
        if round(self.suggested_auc - self.auc, 6) < round(min_gain, 6):
            result = self.env._(
                "The gain is below the minimum of %(min).2f: no draft was made.", min=min_gain
            )
        elif existing := self._existing_draft(scoring_model):
            result = self.env._(
                "The gain reaches the minimum of %(min).2f, but the model already has a draft, "
                '"%(draft)s": no other draft was made.',
                min=min_gain,
                draft=existing.name,
            )
        else:
            draft = self._create_suggested_draft()
            result = self.env._(
                'The gain reaches the minimum of %(min).2f: draft "%(draft)s" holds the '
                "suggested points. Preview it, then publish or delete it.",
                min=min_gain,
                draft=draft.name,
            )
            self._schedule_review(draft)
        return Markup("<p>%s</p><p>%s</p><p>%s</p>") % (intro, quality, result)

    def _schedule_review(self, draft):
        """A To-Do on the live model for its responsible (else its creator):
        review the draft the scheduled lab made."""
        scoring_model = self.model_id
        user = scoring_model.user_id or scoring_model.create_uid
        if not user.active or user.share:
            _logger.info(
                "Scheduled scoring lab: scoring model %s has no responsible to review draft %s",
                scoring_model.id,
                draft.id,
            )
            return
        scoring_model.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=self.env._("Review the scoring lab's draft"),
            note=self.env._(
                "The scheduled scoring lab suggests new points (ROC AUC %(auc).2f → %(new).2f): "
                'open draft "%(draft)s", preview it, then publish or delete it.',
                auc=self.auc,
                new=self.suggested_auc,
                draft=draft.name,
            ),
            user_id=user.id,
        )

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def _patterns(self):
        """The analysed patterns (see ``pattern_data``), or None."""
        self.ensure_one()
        return json.loads(self.pattern_data) if self.pattern_data else None

    def _line_points(self, field_name):
        """``{rule id: points}`` from the lines' ``field_name``."""
        return {line.rule_id.id: line[field_name] for line in self.line_ids}

    def _apply_note(self, changes, intercept, slope):
        """The chatter note of an apply: old → new points and both AUCs."""
        items = Markup("").join(
            Markup("<li>%s</li>")
            % self.env._(
                "%(rule)s: %(old)s → %(new)s",
                rule=rule.name,
                old=format(old, "g"),
                new=format(new, "g"),
            )
            for rule, old, new in changes
        ) or Markup("<li>%s</li>") % self.env._("No rule's points changed.")
        if self.auc_measured:
            quality = self.env._(
                "ROC AUC on the newest 30%% of the outcomes: %(auc).2f with the old points, "
                "%(new).2f with the new ones.",
                auc=self.auc,
                new=self.suggested_auc,
            )
        else:
            quality = self.evaluation_note
        return Markup("<p>%s</p><ul>%s</ul><p>%s</p><p>%s</p>") % (
            self.env._(
                "Scoring lab applied on the opportunities closed from %(start)s to %(end)s "
                "(%(won)s won, %(lost)s lost):",
                start=self.date_from,
                end=self.date_to,
                won=self.won_count,
                lost=self.lost_count,
            ),
            items,
            quality,
            self.env._(
                "Win probability = 1 / (1 + e^-(%(intercept).3f + %(slope).4f × score)).",  # noqa: RUF001
                intercept=intercept,
                slope=slope,
            ),
        )

    # ------------------------------------------------------------------
    # Model health: how well the current points rank the latest outcomes
    # ------------------------------------------------------------------

    @api.model
    def _model_health(self, scoring_model):
        """The health fields of a scoring model: ROC AUC of the score at
        closing of the outcomes closed in the last ``HEALTH_DAYS`` days, and
        since the last apply of the lab (scores at closing before it came
        from the old points), with a note when it cannot be measured or fell."""
        now = fields.Datetime.now()
        since = now - timedelta(days=HEALTH_DAYS)
        if scoring_model.date_lab_applied:
            since = max(since, scoring_model.date_lab_applied)
        values = {
            "health_auc": 0.0,
            "health_won_count": 0,
            "health_lost_count": 0,
            "health_note": False,
            "health_warning": False,
        }
        groups = self._health_groups(scoring_model, since, now)
        if groups is None:
            return values
        won = sum(group[1] for group in groups)
        lost = sum(group[2] for group in groups)
        values.update(health_won_count=won, health_lost_count=lost)
        auc = lab_math.roc_auc(groups)
        if won + lost < lab_math.MIN_OUTCOMES or auc is None:
            values["health_note"] = self.env._(
                "%(won)s won and %(lost)s lost since %(since)s: at least %(min)s outcomes, "
                "won and lost, are needed to measure.",
                won=won,
                lost=lost,
                since=format_date(self.env, since),
                min=lab_math.MIN_OUTCOMES,
            )
            return values
        values["health_auc"] = auc
        if scoring_model.lab_auc and scoring_model.lab_auc - auc > HEALTH_AUC_DROP:
            values["health_warning"] = True
            values["health_note"] = self.env._(
                "The ROC AUC fell from %(before).2f at the last apply to %(now).2f: "
                "time to run the lab.",
                before=scoring_model.lab_auc,
                now=auc,
            )
        return values

    @api.model
    def _health_groups(self, scoring_model, since, now):
        """``[(score at closing, won, lost)]`` of the outcomes closed from
        ``since`` to ``now``, the score rebuilt from the ledger as the
        conversion report does and clamped like the live score (one grouped
        query); None when the model's target has no outcomes."""
        outcomes = scoring_model.id and scoring_model._lab_outcomes_sql(since, now)
        if not outcomes:
            return None
        self.env.flush_all()  # the deals' stages and the ledger, read below in SQL
        self.env.cr.execute(
            SQL(
                """
                SELECT ROUND((%(score)s)::numeric, 4)::float8 AS score,
                       count(*) FILTER (WHERE o.won), count(*) FILTER (WHERE NOT o.won)
                  FROM (%(outcomes)s) o
                 GROUP BY 1
                """,
                score=model_clamp_sql(
                    scoring_model,
                    score_at_sql(
                        scoring_model.id,
                        SQL("p.%s = o.id", SQL.identifier(scoring_model._target_column())),
                        SQL("o.date_closed"),
                    ),
                ),
                outcomes=outcomes,
            )
        )
        return self.env.cr.fetchall()


@contextlib.contextmanager
def _without_jit(cr):
    """PostgreSQL's JIT compiler takes seconds over the lab's one-off
    statements (their estimated cost is high) to save less than that: it is
    off while they run, then back as it was."""
    cr.execute(SQL("SELECT current_setting('jit')"))
    previous = cr.fetchone()[0]
    cr.execute(SQL("SELECT set_config('jit', 'off', true)"))
    try:
        yield
    finally:
        cr.execute(SQL("SELECT set_config('jit', %s, true)", previous))


def _whole_deciles(rows):
    """``lab_math.lift_by_decile`` rows with whole outcomes: a tie spread over
    two tenths comes out in fractions (6.3 outcomes); people count outcomes.
    The running totals of won and lost are rounded, so every outcome is in
    exactly one tenth and the tenths add up to the total; the won rate and
    lift are those of the whole counts shown."""
    total = sum(count for _decile, count, _won, _rate, _lift in rows)
    won_total = sum(won for _decile, _count, won, _rate, _lift in rows)
    base_rate = won_total / total if total else 0.0
    result = []
    won_sum = lost_sum = 0.0
    won_before = lost_before = 0
    for decile, count, won, _rate, _lift in rows:
        won_sum += won
        lost_sum += count - won
        won_upto, lost_upto = round(won_sum), round(lost_sum)
        whole_won = won_upto - won_before
        whole_count = whole_won + lost_upto - lost_before
        won_before, lost_before = won_upto, lost_upto
        rate = whole_won / whole_count if whole_count else 0.0
        result.append(
            (decile, whole_count, whole_won, rate, rate / base_rate if base_rate else 0.0)
        )
    return result


def _features(hits):
    """A hit pattern as the features of ``lab_math.fit_logistic``."""
    return tuple((position, 1.0) for position in hits)


def _hits_per_position(patterns, size):
    """``[[won, lost], ...]``: the hits of each rule position over patterns."""
    hits = [[0, 0] for _ in range(size)]
    for pattern, won, lost in patterns:
        for position in pattern:
            hits[position][0] += won
            hits[position][1] += lost
    return hits


def _totals(patterns):
    """``(won, lost)`` over ``[hits, won, lost]`` patterns."""
    return sum(p[1] for p in patterns), sum(p[2] for p in patterns)


def _scored(patterns, rule_ids, points):
    """``(score, won, lost)`` of patterns under ``{rule id: points}``: the
    score a record gets from the rules it hits."""
    values = [points.get(rule_id, 0.0) for rule_id in rule_ids]
    return [(sum(values[i] for i in hits), won, lost) for hits, won, lost in patterns]
