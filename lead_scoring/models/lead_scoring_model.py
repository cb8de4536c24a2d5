import json
import logging
import time

from markupsafe import Markup

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.osv import expression
from odoo.tools import SQL

from ..domains import domain_error, is_empty, parse_domain
from ..engine import (
    Recompute,
    find_targets,
    registered_targets,
)

_logger = logging.getLogger(__name__)

# Settings that change every score of a model without touching its ledger.
SCORE_SETTINGS = {
    "rollup",
    "use_min_score",
    "min_score",
    "use_max_score",
    "max_score",
    "decay_half_life_days",
}

# Settings that decide which scoring model gives a record its primary score.
PRIMARY_SETTINGS = {"active", "sequence", "company_id", "target", "domain"}
# Settings a record's revenue forecast depends on: its primary model, the calibration.
FORECAST_SETTINGS = PRIMARY_SETTINGS | {
    "date_lab_applied",
    "win_calibration_intercept",
    "win_calibration_slope",
}
# Settings the conversion report's view holds (each model's segment).
REPORT_SETTINGS = {"active", "target", "domain"}

# Settings a draft copies from its live model and publishing copies back
# (besides the segment, ``domain``); a version's config holds them too.
DRAFT_SETTINGS = (
    "use_min_score",
    "min_score",
    "use_max_score",
    "max_score",
    "decay_half_life_days",
    "rollup",
    "trend_days",
)
# How long a publish waits for a running recompute to finish (seconds).
PUBLISH_LOCK_WAIT = 60
# A publish notes rule changes itself: the rules' own notes stay quiet.
PUBLISH_QUIET = {"lead_scoring_lab_apply": True}
# What a rule of a draft carries over to the live rule it copies when published.
RULE_FIELDS = ("name", "domain", "points", "expire_after", "expire_unit", "active", "sequence")


class LeadScoringModel(models.Model):
    _name = "lead.scoring.model"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _description = "Scoring Model"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True, tracking=True)
    description = fields.Text(translate=True)
    user_id = fields.Many2one(
        "res.users",
        "Responsible",
        default=lambda self: self.env.user,
        help="Who looks after this model: thresholds that schedule activities fall back "
        "to them when a record has no salesperson.",
    )
    target = fields.Selection(
        selection="_selection_target",
        required=True,
        default="contact",
        help="Contacts are scored on res.partner, deals on CRM opportunities.",
    )
    target_model = fields.Char(compute="_compute_target_model")
    active = fields.Boolean(default=True, tracking=True)
    sequence = fields.Integer(
        default=10,
        help="The first active model of a target gives the contact score or "
        "deal score shown in lists and forms.",
    )
    company_id = fields.Many2one(
        "res.company",
        help="Leave empty to score the records of all companies.",
    )
    domain = fields.Char(
        "Segment",
        default="[]",
        required=True,
        help="The records this model scores, e.g. professional customers only. "
        "Every rule applies within it; automations and manual points skip the "
        "records outside it. Empty: every record.",
    )
    trend_days = fields.Integer(
        "Trend Period (days)",
        default=30,
        help="A score's trend compares it with the score this many days ago.",
    )
    segment_count = fields.Integer(
        "In Segment Now",
        compute="_compute_segment_count",
        help="Active records of the model's company that match its segment today: the "
        "records its rules are evaluated on.",
    )
    rollup = fields.Selection(
        [("none", "None"), ("sum", "Sum"), ("max", "Highest"), ("average", "Average")],
        "Account Roll-up",
        default="none",
        required=True,
        help="Contact models: a company's score adds up its own points and the sum, "
        "highest or average score of its active contacts in this model.",
    )
    rule_ids = fields.One2many("lead.scoring.rule", "model_id", string="Rules", copy=True)
    threshold_ids = fields.One2many(
        "lead.scoring.threshold", "model_id", string="Thresholds", copy=True
    )
    band_ids = fields.One2many("lead.scoring.band", "model_id", string="Bands", copy=True)
    grade_ids = fields.One2many(
        "lead.scoring.grade",
        "model_id",
        string="Grades",
        copy=True,
        context={"active_test": False},
    )
    automation_ids = fields.One2many("lead.scoring.automation", "model_id", string="Automations")
    use_min_score = fields.Boolean("Minimum Score", tracking=True)
    min_score = fields.Float(help="Scores never go below this value.", tracking=True)
    use_max_score = fields.Boolean("Maximum Score", tracking=True)
    max_score = fields.Float(default=100.0, help="Scores never go above this value.", tracking=True)
    decay_half_life_days = fields.Float(
        "Decay Half-Life (days)",
        help="Points lose half their value after this many days. 0 = no decay.",
        tracking=True,
    )
    date_last_recompute = fields.Datetime("Last Recompute", readonly=True)
    scores_dirty = fields.Boolean(
        default=True,
        copy=False,
        readonly=True,
        help="Technical: the ledger or the score settings changed since the scores "
        "were last refreshed. Set in the transaction that changes them, so that "
        "a run that dies before the refresh still leaves it for the next run.",
    )
    primary_sync_pending = fields.Boolean(
        default=True,
        copy=False,
        readonly=True,
        help="Technical: which scoring model gives the records of this target their "
        "primary score changed; the next run copies every primary score again.",
    )
    date_safety_net = fields.Datetime(
        "Safety Net Pass Started",
        readonly=True,
        copy=False,
        help="Technical: when the current pass of the daily safety net started. "
        "The rules are evaluated again on a sixth of the records every 4 hours "
        "after it, so that every record is evaluated again within a day.",
    )
    safety_net_id = fields.Integer(
        "Safety Net Reached Id",
        readonly=True,
        copy=False,
        help="Technical: the records up to this id were evaluated again in the "
        "current pass of the daily safety net.",
    )
    # Written by the scoring lab's Apply (lead.scoring.lab.action_apply).
    date_lab_applied = fields.Datetime(
        "Lab Applied On",
        readonly=True,
        copy=False,
        help="When the scoring lab's points and win probability calibration were last applied.",
    )
    lab_auc = fields.Float(
        "ROC AUC at the Last Apply",
        digits=(3, 2),
        readonly=True,
        copy=False,
        help="ROC AUC of the applied points on the newest 30% of the outcomes the "
        "lab analysed: what the model health is compared with.",
    )
    win_calibration_intercept = fields.Float(
        "Calibration Intercept",
        digits=(16, 6),
        readonly=True,
        copy=False,
        help="Win probability = 1 / (1 + e^-(intercept + slope * score)), fitted by "
        "the scoring lab on the won and lost outcomes at the points it applied.",
    )
    win_calibration_slope = fields.Float(
        "Calibration Slope",
        digits=(16, 6),
        readonly=True,
        copy=False,
        help="Change of the log-odds of winning per point of score.",
    )
    health_auc = fields.Float(
        "ROC AUC, Last 90 Days",
        digits=(3, 2),
        compute="_compute_health",
        help="How well the score at closing (rebuilt from the ledger) told the "
        "opportunities won from the lost ones closed in the last 90 days (since "
        "the last apply of the lab, if later): 0.5 = a coin toss, 1 = perfect.",
    )
    health_won_count = fields.Integer("Won, Last 90 Days", compute="_compute_health")
    health_lost_count = fields.Integer("Lost, Last 90 Days", compute="_compute_health")
    health_note = fields.Char("Health", compute="_compute_health")
    health_warning = fields.Boolean(
        "Time to Run the Lab",
        compute="_compute_health",
        help="The ROC AUC fell by more than 0.05 since the lab was last applied.",
    )
    scored_count = fields.Integer(
        "Ever Scored",
        compute="_compute_statistics",
        help="Records that have a score in this model: every record that ever got points, "
        "archived ones and ones that have left the segment included.",
    )
    average_score = fields.Float(compute="_compute_statistics")
    live_point_count = fields.Integer("Live Ledger Lines", compute="_compute_statistics")
    # Safe model changes: a draft is a copy of a live model's configuration
    # that scores nothing until it is published over it.
    state = fields.Selection(
        [("live", "Live"), ("draft", "Draft")],
        default="live",
        required=True,
        readonly=True,
        copy=False,
        index=True,
        help="Live models score records. A draft scores nothing: preview it, then publish "
        "it over its live model.",
    )
    live_model_id = fields.Many2one(
        "lead.scoring.model",
        "Draft Of",
        ondelete="cascade",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The live model this draft would replace when published.",
    )
    draft_ids = fields.One2many("lead.scoring.model", "live_model_id", "Drafts", readonly=True)
    draft_count = fields.Integer("Draft Pending", compute="_compute_draft_count")
    version = fields.Integer(
        default=1,
        readonly=True,
        copy=False,
        help="Goes up by one each time a draft is published over this model.",
    )
    version_ids = fields.One2many(
        "lead.scoring.model.version", "model_id", "Versions", readonly=True
    )
    lab_interval = fields.Selection(
        [("none", "Never"), ("monthly", "Monthly"), ("quarterly", "Quarterly")],
        "Scheduled Lab",
        default="none",
        required=True,
        help="Run the scoring lab on this model on a schedule; when its suggestion is "
        "clearly better, a draft is prepared for the responsible to preview and publish.",
    )
    lab_min_gain = fields.Float(
        "Minimum ROC AUC Gain",
        default=0.02,
        digits=(3, 2),
        help="The scheduled lab prepares a draft only when the suggested points beat the "
        "current ones by at least this much ROC AUC.",
    )

    _sql_constraints = [
        (
            "decay_half_life_days_positive",
            "CHECK(decay_half_life_days >= 0)",
            "The decay half-life cannot be negative.",
        ),
    ]

    @api.model
    @tools.ormcache()
    def _registered_targets(self):
        return find_targets(self.env.registry)

    @api.model
    def _selection_target(self):
        """The targets registered by the scored models (``lead.scoring.mixin``)."""
        return [
            (
                target.key,
                self.env[target.model_name]._lead_scoring_target_label._translate(
                    self.env.lang or "en_US"
                ),
            )
            for target in registered_targets(self.env).values()
        ]

    @api.depends("target")
    def _compute_target_model(self):
        targets = registered_targets(self.env)
        for scoring_model in self:
            target = targets.get(scoring_model.target)
            scoring_model.target_model = target.model_name if target else False

    @api.depends("domain", "target", "company_id")
    def _compute_segment_count(self):
        for scoring_model in self:
            try:
                scoring_model.segment_count = scoring_model._target_records().search_count(
                    scoring_model._scope_domain()
                )
            except Exception:  # noqa: BLE001 -- a half-typed segment in the form
                scoring_model.segment_count = 0

    def _compute_statistics(self):
        scores = self.env["lead.scoring.score"].sudo()
        stats = {
            scoring_model.id: (count, total)
            for scoring_model, count, total in scores._read_group(
                [("model_id", "in", self.ids)], ["model_id"], ["__count", "score:sum"]
            )
        }
        live = dict(
            self.env["lead.scoring.point"]
            .sudo()
            ._read_group(
                [("model_id", "in", self.ids), ("is_live", "=", True)],
                ["model_id"],
                ["__count"],
            )
        )
        for scoring_model in self:
            count, total = stats.get(scoring_model.id, (0, 0.0))
            scoring_model.scored_count = count
            scoring_model.average_score = total / count if count else 0.0
            scoring_model.live_point_count = live.get(scoring_model, 0)

    @api.depends("draft_ids")
    def _compute_draft_count(self):
        for scoring_model in self:
            scoring_model.draft_count = len(scoring_model.draft_ids)

    @api.depends("date_lab_applied", "lab_auc", "target", "company_id")
    def _compute_health(self):
        for scoring_model in self:
            scoring_model.update(self.env["lead.scoring.lab"]._model_health(scoring_model))

    @api.constrains("use_min_score", "min_score", "use_max_score", "max_score")
    def _check_score_bounds(self):
        for scoring_model in self:
            if (
                scoring_model.use_min_score
                and scoring_model.use_max_score
                and scoring_model.min_score > scoring_model.max_score
            ):
                raise ValidationError(
                    self.env._(
                        "The minimum score of %(model)s cannot be above its maximum.",
                        model=scoring_model.name,
                    )
                )

    @api.constrains("domain", "target")
    def _check_segment(self):
        for scoring_model in self:
            error = domain_error(scoring_model._target_records(), scoring_model.domain)
            if error:
                raise ValidationError(
                    self.env._(
                        'The segment of scoring model "%(model)s" is not a valid domain on '
                        "%(target)s: %(error)s",
                        model=scoring_model.name,
                        target=scoring_model.target_model,
                        error=error,
                    )
                )

    @api.constrains("rollup", "target")
    def _check_rollup(self):
        for scoring_model in self:
            if scoring_model.rollup != "none" and scoring_model.target_model != "res.partner":
                raise ValidationError(
                    self.env._(
                        'Scoring model "%(model)s": only contact models roll scores up '
                        "into their companies.",
                        model=scoring_model.name,
                    )
                )

    @api.constrains("target", "rule_ids")
    def _check_rules_target(self):
        # Changing the target invalidates every rule domain written for the old one.
        self.rule_ids._check_domain()

    @api.constrains("state", "live_model_id", "target", "company_id")
    def _check_draft(self):
        for scoring_model in self:
            live = scoring_model.live_model_id
            if scoring_model.state == "live":
                if live:
                    raise ValidationError(
                        self.env._("Only a draft can be the draft of another scoring model.")
                    )
                continue
            if not live or live.state != "live":
                raise ValidationError(
                    self.env._(
                        'Draft "%(model)s" must be the draft of a live scoring model.',
                        model=scoring_model.name,
                    )
                )
            if (live.target, live.company_id) != (scoring_model.target, scoring_model.company_id):
                raise ValidationError(
                    self.env._(
                        'Draft "%(model)s" scores the same records as %(live)s: the same '
                        "target and company.",
                        model=scoring_model.name,
                        live=live.name,
                    )
                )
            if self.sudo().search_count([("live_model_id", "=", live.id)]) > 1:
                raise ValidationError(
                    self.env._(
                        "%(live)s already has a draft: a live model has at most one.",
                        live=live.name,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        scoring_models = super().create(vals_list)
        # Drafts score nothing: which model is primary, what the rules
        # watch and the conversion report stay as they are.
        live = scoring_models.filtered(lambda m: m.state == "live")
        if live:
            # Which model is primary may have changed (cached per target).
            self.env["lead.scoring.rule"]._update_watched_models()
            self._flag_primary_sync(live.mapped("target"))
            self._forecast_inputs_changed(live.mapped("target"))
            if live.filtered("domain"):
                self.env["lead.scoring.conversion.report"]._rebuild()
        return scoring_models

    def write(self, vals):
        if {"state", "live_model_id"} & vals.keys() and not self.env.context.get(
            "lead_scoring_create_draft"
        ):
            raise UserError(
                self.env._(
                    "A draft becomes live by being published over its live model "
                    "(Preview, then Publish)."
                )
            )
        if SCORE_SETTINGS & vals.keys():
            vals = dict(vals, scores_dirty=True)
        live = self.filtered(lambda m: m.state == "live")
        old_targets = live.mapped("target")
        res = super().write(vals)
        if not live:
            return res
        if PRIMARY_SETTINGS & vals.keys():
            self.env["lead.scoring.rule"]._update_watched_models()
            # The primary model of some records changed: their contact/deal score must follow.
            self._flag_primary_sync(old_targets + live.mapped("target"))
            self.env["lead.scoring.rule"]._trigger_recompute()
        if FORECAST_SETTINGS & vals.keys():
            self._forecast_inputs_changed(old_targets + live.mapped("target"))
        if REPORT_SETTINGS & vals.keys():
            self.env["lead.scoring.conversion.report"]._rebuild()
        if "active" in vals:
            if not vals["active"]:
                live.rule_ids._close_open_lines()
            live.with_context(active_test=False).automation_ids._sync_automation()
        return res

    def unlink(self):
        targets = self.filtered(lambda m: m.state == "live").mapped("target")
        automations = self.with_context(active_test=False).automation_ids
        automations.unlink()
        res = super().unlink()
        self.env["lead.scoring.rule"]._update_watched_models()
        for target in set(targets):
            self._target_records_for(target)._lead_scoring_sync_primary_score()
        self._forecast_inputs_changed(targets)
        return res

    def _forecast_inputs_changed(self, targets):
        """A calibration, or which model gives records of ``targets`` their
        primary score, changed: their forecast follows at once."""
        for target in set(targets):
            self._target_records_for(target)._lead_scoring_forecast_inputs_changed()

    def action_recompute(self):
        """Recompute the scores of these models now (button "Recompute now").

        Every rule is evaluated on every record, not only on the records saved
        since the last run: this also catches data changed behind the ORM's
        back (an import through SQL).
        """
        self.check_access("write")
        self._check_live()
        if not self.sudo()._recompute_scores(full=True):
            raise UserError(
                self.env._("Scores are being recomputed right now. Try again in a minute.")
            )
        return True

    def _check_live(self):
        """Drafts score nothing: refuse to run them."""
        if self.filtered(lambda m: m.state == "draft"):
            raise UserError(
                self.env._("A draft scores nothing until it is published: preview it instead.")
            )

    def action_open_lab(self):
        """Button "Scoring Lab": learn this model's points from its closed
        opportunities (``lead.scoring.lab``). Managers only."""
        self.ensure_one()
        if not self.env.user.has_group("lead_scoring.group_lead_scoring_manager"):
            raise AccessError(self.env._("Only lead scoring managers can run the scoring lab."))
        self.check_access("write")
        self._check_live()
        if self._lab_outcomes_sql(None, None) is None:
            raise UserError(
                self.env._(
                    "The scoring lab learns from won and lost opportunities: it works for "
                    "models that score contacts or deals."
                )
            )
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Scoring Lab: %(model)s", model=self.name),
            "res_model": "lead.scoring.lab",
            "view_mode": "form",
            "target": "current",
            "context": {"default_model_id": self.id},
        }

    def _refresh_all_bands(self):
        """Relabel the scores of these models after their bands changed
        (drafts have no scores)."""
        live = self.filtered(lambda m: m.state == "live")
        for scoring_model in live.sudo():
            self.env["lead.scoring.score"].sudo()._refresh_bands(scoring_model)
        for target in set(live.mapped("target")):
            self._target_records_for(target)._lead_scoring_sync_primary_score()

    def action_open_points(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "lead_scoring.lead_scoring_point_action"
        )
        action["domain"] = [("model_id", "=", self.id)]
        action["context"] = {"search_default_filter_live": 1}
        return action

    def action_open_scores(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "lead_scoring.lead_scoring_score_action"
        )
        action["domain"] = [("model_id", "=", self.id)]
        return action

    # ------------------------------------------------------------------
    # Drafts, publish, versions
    # ------------------------------------------------------------------

    def _check_scoring_manager(self):
        """Drafts, publishing and restoring are the lead scoring managers'."""
        if not (self.env.su or self.env.user.has_group("lead_scoring.group_lead_scoring_manager")):
            raise AccessError(
                self.env._(
                    "Only lead scoring managers can draft, publish or restore scoring models."
                )
            )

    def _form_action(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.name,
            "res_model": "lead.scoring.model",
            "res_id": self.id,
            "view_mode": "form",
            "target": "current",
        }

    def action_create_draft(self):
        """Button "Create Draft" (live model): a draft copy to change safely,
        or the draft the model already has."""
        self.ensure_one()
        return self._create_draft()._form_action()

    def action_open_draft(self):
        """Stat button "Draft pending" of a live model."""
        self.ensure_one()
        self._check_scoring_manager()
        if not self.draft_ids:
            raise UserError(self.env._("%(model)s has no draft.", model=self.name))
        return self.draft_ids[:1]._form_action()

    def action_open_live_model(self):
        self.ensure_one()
        return self.live_model_id._form_action()

    def action_preview(self):
        """Button "Preview" (draft): what publishing it would change."""
        self.ensure_one()
        self._check_scoring_manager()
        if self.state != "draft":
            raise UserError(self.env._("Only a draft can be previewed."))
        return self.env["lead.scoring.preview"]._open_for(self)

    @api.model
    def _copy_values(self, record):
        """The values ``record`` (a threshold, band or grade) would be copied
        with, without its scoring model, as JSON data (a version's config):
        the fields bridges add come along."""
        values = record.copy_data()[0]
        values.pop("model_id", None)
        return json.loads(json.dumps(values, default=str))

    @api.model
    def _existing_values(self, model_name, values):
        """``values`` (from a version's config) without the references to
        records deleted since: a version restored later must still load."""
        model = self.env[model_name]
        values = dict(values)
        for name, value in list(values.items()):
            field = model._fields.get(name)
            if field is None or (field.compute and not field.store):
                values.pop(name)
            elif field.type == "many2one" and value:
                values[name] = self.env[field.comodel_name].sudo().browse(value).exists().id
            elif field.type == "many2many" and value:
                ids = [i for command in value if command[0] == 6 for i in command[2]]
                existing = self.env[field.comodel_name].sudo().browse(ids).exists().ids
                values[name] = [fields.Command.set(existing)]
            elif field.type == "one2many":
                values.pop(name)
        return values

    def _version_config(self):
        """The configuration a version stores and a draft copies: segment,
        settings, the active rules (``id``: the live rule, for a draft the
        live rule it copies), thresholds, bands and grades."""
        self.ensure_one()
        scoring_model = self.with_context(active_test=True)
        rules = []
        for rule in scoring_model.rule_ids.sorted(lambda r: (r.sequence, r.id)):
            values = {name: rule[name] for name in RULE_FIELDS}
            values["id"] = rule.origin_rule_id.id if self.state == "draft" else rule.id
            rules.append(values)
        return {
            "domain": self.domain,
            "settings": {name: self[name] for name in DRAFT_SETTINGS},
            "rules": rules,
            "thresholds": [
                self._copy_values(threshold)
                for threshold in scoring_model.threshold_ids.sorted("id")
            ],
            "bands": [self._copy_values(band) for band in self.band_ids.sorted("id")],
            "grades": [
                self._copy_values(grade)
                for grade in self.with_context(active_test=False).grade_ids.sorted("id")
            ],
        }

    def _create_draft(self, rule_points=None, config=None):
        """The draft of this live model: its segment, settings, rules (each
        with ``origin_rule_id``), thresholds, bands and grades; automations
        stay with the live model. With no arguments, the existing draft when
        there is one.

        :param rule_points: ``{live rule id: points}`` replacing the copied points
        :param config: a version's config to build the draft from (restore)
        """
        self.ensure_one()
        self._check_scoring_manager()
        self.check_access("write")
        if self.state != "live":
            raise UserError(self.env._("Only a live scoring model can have a draft."))
        if self.draft_ids:
            if rule_points is None and config is None:
                return self.draft_ids[:1]
            raise UserError(
                self.env._(
                    "%(model)s already has a draft: publish or delete it first.",
                    model=self.name,
                )
            )
        config = config or self._version_config()

        def commands(model_name, records):
            return [
                fields.Command.create(self._existing_values(model_name, values))
                for values in records
            ]

        settings = config.get("settings", {})
        settings = {name: value for name, value in settings.items() if name in self._fields}
        draft = self.with_context(lead_scoring_create_draft=True).create(
            {
                "name": self.env._("%(model)s (draft)", model=self.name),
                "description": self.description,
                "state": "draft",
                "live_model_id": self.id,
                "target": self.target,
                "company_id": self.company_id.id,
                "sequence": self.sequence,
                "user_id": self.user_id.id,
                "domain": config.get("domain") or "[]",
                **settings,
                "rule_ids": self._draft_rule_commands(config["rules"], rule_points or {}),
                "threshold_ids": commands("lead.scoring.threshold", config.get("thresholds", [])),
                "band_ids": commands("lead.scoring.band", config.get("bands", [])),
                "grade_ids": commands("lead.scoring.grade", config.get("grades", [])),
            }
        )
        return draft.with_context(lead_scoring_create_draft=False)

    def _draft_rule_commands(self, rules, rule_points):
        """Commands creating the draft's copies of a config's ``rules``, each
        with its live rule as ``origin_rule_id`` (when that rule still
        exists) and the points of ``rule_points`` ({live rule id: points})."""
        live_rules = self.with_context(active_test=False).rule_ids
        live_by_id = {rule.id: rule for rule in live_rules}
        commands = []
        for rule in rules:
            origin = live_by_id.get(rule.get("id"), live_rules.browse())
            values = {name: rule[name] for name in RULE_FIELDS if name in rule}
            if origin.id in rule_points:
                values["points"] = rule_points[origin.id]
            commands.append(fields.Command.create(dict(values, origin_rule_id=origin.id)))
        return commands

    def _publish_draft(self, fire_thresholds=True, auc_note=None):
        """Publish this draft over its live model (the preview's Publish):

        1. store the live model's configuration as a version;
        2. the live model takes the draft's configuration (rules with an
           ``origin_rule_id`` updated, new ones added, the others archived
           and their open lines closed; thresholds, bands, grades, segment
           and settings likewise);
        3. its scores are right when this returns: the open lines of rules
           whose points changed are re-awarded, changed domains evaluated,
           every score refreshed;
        4. without ``fire_thresholds`` the records the change moves over a
           threshold are marked as crossed without firing (otherwise the
           next run fires them);
        5. the draft is deleted, the model's ``version`` goes up, its
           chatter tells what changed.

        All under the recompute lock: a scheduled run (or its jobs) and a
        publish never interleave. A publish waits for a running run up to
        ``PUBLISH_LOCK_WAIT`` seconds; a run that finds a publish going on
        leaves its work to the next one.

        :param auc_note: text the preview adds to the chatter (both ROC AUCs)
        :return: the ``lead.scoring.model.version`` stored
        """
        self.ensure_one()
        self._check_scoring_manager()
        if self.state != "draft" or not self.live_model_id:
            raise UserError(self.env._("Only a draft can be published."))
        live = self.live_model_id
        live.check_access("write")
        recompute = Recompute(live.sudo())
        deadline = time.monotonic() + PUBLISH_LOCK_WAIT
        while not recompute._lock():
            if time.monotonic() >= deadline:
                raise UserError(
                    self.env._("Scores are being recomputed right now. Try again in a minute.")
                )
            time.sleep(0.5)
        try:
            self.env.flush_all()
            version = live._apply_draft(self, recompute, fire_thresholds, auc_note)
        finally:
            recompute._unlock()
        self.env.invalidate_all()
        return version

    def _apply_draft(self, draft, recompute, fire_thresholds, auc_note):
        """Steps 1 to 5 of ``_publish_draft`` on this live model, under the lock."""
        self.ensure_one()
        now = recompute.now
        number = self.version
        before = self._version_config()
        new_version = f"v{number + 1}"
        changes, segment_changed = self._apply_draft_settings(draft)
        rule_changes, to_evaluate = self._apply_draft_rules(draft, new_version, now)
        changes += rule_changes
        changed_thresholds, threshold_changes = self._apply_draft_thresholds(draft)
        changes += threshold_changes
        changes += self._apply_draft_bands(draft)
        changes += self._apply_draft_grades(draft)
        if segment_changed:
            to_evaluate = self.rule_ids.filtered("active")
        if to_evaluate and self.active:  # an archived model's rules hold no lines
            to_evaluate.sudo().with_context(
                lead_scoring_engine=True, lead_scoring_full_evaluation=True
            )._evaluate(now)
        self._refresh_after_publish(recompute, segment_changed, fire_thresholds, changed_thresholds)
        note = "\n".join(changes) or self.env._("No change.")
        version = (
            self.env["lead.scoring.model.version"]
            .sudo()
            .create(
                {
                    "model_id": self.id,
                    "number": number,
                    "date": now,
                    "user_id": self.env.uid,
                    "config": before,
                    "note": note,
                }
            )
        )
        self.sudo().version = number + 1
        draft.with_context(lead_scoring_create_draft=True).sudo().unlink()
        self._post_published(version, new_version, note, fire_thresholds, auc_note)
        return version

    def _apply_draft_settings(self, draft):
        """The live model takes the draft's settings and segment: ``(change
        lines, whether the segment changed)``."""
        changes = []
        settings = {name: draft[name] for name in DRAFT_SETTINGS if draft[name] != self[name]}
        segment_changed = draft.domain != self.domain
        if segment_changed:
            settings["domain"] = draft.domain
            changes.append(self.env._("Segment changed."))
        for name in settings.keys() - {"domain"}:
            changes.append(
                self.env._(
                    "%(setting)s: %(old)s → %(new)s",
                    setting=self._fields[name]._description_string(self.env),
                    old=self[name],
                    new=settings[name],
                )
            )
        if settings:
            self.write(settings)
        return changes, segment_changed

    def _refresh_after_publish(self, recompute, segment_changed, fire_thresholds, thresholds):
        """Scores right before the call returns; without ``fire_thresholds``
        the records the change lifts over ``thresholds`` are armed silently."""
        above_before = {}
        if not fire_thresholds:
            above_before = self._ids_above_thresholds(thresholds)
        self.env.flush_all()
        self._mark_scores_dirty(self.ids)
        recompute._refresh_model(recompute.scoring_models.browse(self.id))
        if segment_changed:
            self._target_records()._lead_scoring_sync_primary_score()
        if not fire_thresholds:
            self._arm_thresholds_silently(thresholds, above_before)

    def _post_published(self, version, new_version, note, fire_thresholds, auc_note):
        """The chatter's account of a publish."""
        body = Markup("<p>%s</p>") % self.env._(
            "Draft published as %(new)s (the previous configuration is kept as %(old)s).",
            new=new_version,
            old=version.name,
        )
        body += Markup("<ul>%s</ul>") % Markup("").join(
            Markup("<li>%s</li>") % line for line in note.split("\n")
        )
        if not fire_thresholds:
            body += Markup("<p>%s</p>") % self.env._(
                "Thresholds crossed by the change were marked as crossed without acting."
            )
        if auc_note:
            body += Markup("<p>%s</p>") % auc_note
        self.message_post(body=body, subtype_xmlid="mail.mt_note")

    def _apply_draft_rules(self, draft, new_version, now):
        """The live rules take the draft's: ``(change lines, rules to evaluate
        in full)``."""
        changes = []
        live_rules = self.with_context(active_test=False).rule_ids
        draft_rules = draft.with_context(active_test=False).rule_ids
        kept = draft_rules.origin_rule_id & live_rules
        # Rules the draft no longer has: archived, their open lines closed.
        removed = (live_rules - kept).filtered("active")
        if removed:
            removed.with_context(**PUBLISH_QUIET).write({"active": False})
            changes += [self.env._("Rule removed: %(rule)s", rule=rule.name) for rule in removed]
        to_evaluate = reaward = self.env["lead.scoring.rule"]
        for draft_rule in draft_rules:
            values = {name: draft_rule[name] for name in RULE_FIELDS}
            rule = draft_rule.origin_rule_id
            if rule in kept:
                rule_changes, evaluate, points_changed = self._update_rule_from_draft(rule, values)
                changes += rule_changes
                to_evaluate |= rule if evaluate else rule.browse()
                reaward |= rule if points_changed else rule.browse()
            elif values["active"]:  # an archived rule added in the draft scores nothing
                rule = self.env["lead.scoring.rule"].create(dict(values, model_id=self.id))
                to_evaluate |= rule
                changes.append(self._rule_added_note(rule))
        if reaward:
            reaward.sudo()._reaward_open_lines(
                now,
                reasons={
                    rule.id: self.env._(
                        "Rule: %(rule)s (points changed in %(version)s)",
                        rule=rule.name,
                        version=new_version,
                    )
                    for rule in reaward
                },
            )
        return changes, to_evaluate

    def _update_rule_from_draft(self, rule, draft_values):
        """Write on a live rule what its draft copy changed: ``(change lines,
        whether to evaluate it in full, whether its open lines are
        re-awarded for new points)``."""
        values = {name: value for name, value in draft_values.items() if rule[name] != value}
        if not values:
            return [], False, False
        changes = []
        old_points = rule.points
        was_active = rule.active
        rule.with_context(**PUBLISH_QUIET).write(values)
        if "active" in values:
            changes.append(
                self._rule_added_note(rule)
                if rule.active
                else self.env._("Rule removed: %(rule)s", rule=rule.name)
            )
        if "points" in values:
            changes.append(
                self.env._(
                    "Rule %(rule)s: points %(old)s → %(new)s",
                    rule=rule.name,
                    old=format(old_points, "g"),
                    new=format(rule.points, "g"),
                )
            )
        if "domain" in values and rule.active:
            changes.append(self.env._("Rule %(rule)s: filter changed", rule=rule.name))
        if "expire_after" in values or "expire_unit" in values:
            changes.append(
                self.env._("Rule %(rule)s: expiry of new points changed", rule=rule.name)
            )
        evaluate = rule.active and ("domain" in values or not was_active)
        reaward = "points" in values and was_active and rule.active
        return changes, evaluate, reaward

    def _rule_added_note(self, rule):
        return self.env._(
            "Rule added: %(rule)s (%(points)s)", rule=rule.name, points=format(rule.points, "+g")
        )

    def _pair_by_name(self, draft_records, live_records, key):
        """``[(draft record, live record or empty)]``, each live record paired
        at most once with a draft record of the same ``key``; and the live
        records left unpaired."""
        left = live_records
        pairs = []
        for record in draft_records:
            wanted = key(record)
            match = left.filtered(lambda r, k=wanted: key(r) == k)[:1]
            left -= match
            pairs.append((record, match))
        return pairs, left

    def _apply_values(self, model_name, draft_record, live_record):
        """Write on ``live_record`` the values of ``draft_record`` that differ:
        the names of the fields written."""
        new = self._copy_values(draft_record)
        old = self._copy_values(live_record)
        values = {name: value for name, value in new.items() if old.get(name) != value}
        if values:
            live_record.write(self._existing_values(model_name, values))
        return set(values)

    def _apply_draft_thresholds(self, draft):
        """:return: ``(thresholds new or changed, change lines)``"""
        Threshold = self.env["lead.scoring.threshold"]
        pairs, removed = self._pair_by_name(
            draft.threshold_ids.sorted("id"),
            self.threshold_ids.sorted("id"),
            lambda t: (t.name, t.direction),
        )
        changed = Threshold
        changes = []
        for draft_threshold, threshold in pairs:
            if threshold:
                written = self._apply_values("lead.scoring.threshold", draft_threshold, threshold)
                if written:
                    changes.append(
                        self.env._("Threshold %(threshold)s changed", threshold=threshold.name)
                    )
                if {"score", "direction"} & written:
                    changed |= threshold
                continue
            values = self._existing_values(
                "lead.scoring.threshold", self._copy_values(draft_threshold)
            )
            added = Threshold.create(dict(values, model_id=self.id))
            changed |= added
            changes.append(self.env._("Threshold added: %(threshold)s", threshold=added.name))
        if removed:
            removed.write({"active": False})
            changes += [
                self.env._("Threshold removed: %(threshold)s", threshold=threshold.name)
                for threshold in removed
            ]
        return changed, changes

    def _apply_draft_bands(self, draft):
        pairs, removed = self._pair_by_name(
            draft.band_ids.sorted("id"), self.band_ids.sorted("id"), lambda b: b.name
        )
        changes = []
        for draft_band, band in pairs:
            if band:
                if self._apply_values("lead.scoring.band", draft_band, band):
                    changes.append(self.env._("Band %(band)s changed", band=band.name))
                continue
            values = self._existing_values("lead.scoring.band", self._copy_values(draft_band))
            added = self.env["lead.scoring.band"].create(dict(values, model_id=self.id))
            changes.append(self.env._("Band added: %(band)s", band=added.name))
        if removed:
            changes += [self.env._("Band removed: %(band)s", band=band.name) for band in removed]
            removed.unlink()
        return changes

    def _apply_draft_grades(self, draft):
        live_grades = self.with_context(active_test=False).grade_ids
        pairs, removed = self._pair_by_name(
            draft.with_context(active_test=False).grade_ids.sorted("id"),
            live_grades.sorted("id"),
            lambda g: g.name,
        )
        changes = []
        for draft_grade, grade in pairs:
            if grade:
                if self._apply_values("lead.scoring.grade", draft_grade, grade):
                    changes.append(self.env._("Grade %(grade)s changed", grade=grade.name))
                continue
            values = self._existing_values("lead.scoring.grade", self._copy_values(draft_grade))
            added = self.env["lead.scoring.grade"].create(dict(values, model_id=self.id))
            changes.append(self.env._("Grade added: %(grade)s", grade=added.name))
        removed = removed.filtered("active")
        if removed:
            changes += [
                self.env._("Grade removed: %(grade)s", grade=grade.name) for grade in removed
            ]
            removed.write({"active": False})
        return changes

    def _ids_above_thresholds(self, changed_thresholds):
        """``{threshold: ids at or above it}`` of the model's active thresholds
        that the publish did not change, before the scores are refreshed."""
        self.env.flush_all()
        column = SQL.identifier(self._target_column())
        above = {}
        for threshold in self.threshold_ids.filtered("active") - changed_thresholds:
            self.env.cr.execute(
                SQL(
                    "SELECT s.%s FROM lead_scoring_score s WHERE s.model_id = %s AND s.score >= %s",
                    column,
                    self.id,
                    threshold.score,
                )
            )
            above[threshold] = {row[0] for row in self.env.cr.fetchall()}
        return above

    def _arm_thresholds_silently(self, changed_thresholds, above_before):
        """Publish without firing: the records the change moved over (up) or
        under (down) a threshold are marked as crossed as a run would, but
        nothing acts. Records already over an unchanged threshold before the
        publish are left to the next run, as they would have been; new and
        changed thresholds start with every record where it is."""
        crossings = self.env["lead.scoring.threshold.crossing"].sudo()
        column = SQL.identifier(self._target_column())
        for threshold in self.threshold_ids.filtered("active").sudo():
            restrict = None
            if threshold not in changed_thresholds:
                self.env.cr.execute(
                    SQL(
                        "SELECT s.%s FROM lead_scoring_score s"
                        " WHERE s.model_id = %s AND s.score >= %s",
                        column,
                        self.id,
                        threshold.score,
                    )
                )
                now_above = {row[0] for row in self.env.cr.fetchall()}
                before = above_before.get(threshold, set())
                # Up: those lifted over it; down: those that fell under it.
                restrict = list(now_above - before if threshold.direction == "up" else before)
            if threshold.direction == "down":
                crossings._fall(threshold, restrict)
                crossings._cross(threshold, restrict)
            else:
                crossings._rearm(threshold, restrict)
                crossings._cross(threshold, restrict)

    # ------------------------------------------------------------------
    # Engine
    # ------------------------------------------------------------------

    def _target(self):
        """The scored Odoo model of this scoring model (``engine.Target``)."""
        self.ensure_one()
        return registered_targets(self.env)[self.target]

    def _target_column(self):
        """Column of the ledger and score tables that holds the scored record."""
        return self._target().column

    def _target_records(self):
        """Empty recordset of the scored model, with archived records excluded."""
        return self.env[self._target().model_name].sudo().with_context(active_test=True)

    def _target_company_domain(self):
        """Records this model may score: all, or those of its company and shared ones."""
        self.ensure_one()
        if not self.company_id:
            return []
        return [("company_id", "in", [False, self.company_id.id])]

    def _segment_domain(self):
        """The segment as a domain ([] for every record)."""
        self.ensure_one()
        return [] if is_empty(self.domain) else parse_domain(self.env, self.domain)

    def _scope_domain(self):
        """The records this model scores: its company's (or all) within its segment."""
        return expression.AND([self._target_company_domain(), self._segment_domain()])

    def _ids_in_segment(self, target_ids):
        """The ids among ``target_ids`` inside this model's segment (one query,
        none without a segment). Automations, manual and API points skip the others."""
        self.ensure_one()
        if is_empty(self.domain):
            return set(target_ids)
        records = self._target_records().with_context(active_test=False)
        inside = set(records._search([("id", "in", list(target_ids)), *self._segment_domain()]))
        if len(inside) < len(set(target_ids)):
            _logger.info(
                "Lead scoring: model %s skipped %s, outside its segment",
                self.id,
                sorted(set(target_ids) - inside),
            )
        return inside

    def _lab_outcomes_sql(self, date_from, date_to):
        """``(id, won, date_closed)`` of the records of this model's target
        with a won or lost outcome closed from ``date_from`` (included) to
        ``date_to`` (excluded), among the records this model may score
        (archived ones included: a lost deal is archived); None when the
        target has no outcomes (see ``_lead_scoring_lab_outcomes_sql``)."""
        self.ensure_one()
        records = self._target_records().with_context(active_test=False)
        outcomes = records._lead_scoring_lab_outcomes_sql(date_from, date_to)
        if outcomes is None:
            return None
        scope = self._scope_domain()
        if not scope:
            return outcomes
        return SQL(
            "SELECT o.* FROM (%s) o WHERE o.id IN (%s)",
            outcomes,
            records._search(scope).select(),
        )

    def _recompute_scores(self, commit=False, full=False):
        """Evaluate rules, expire lines, refresh scores and bands, then fire
        thresholds (see ``engine.Recompute``). Runs as superuser.

        :param commit: commit each step (the cron)
        :param full: evaluate every rule on every record, not only on the
            records saved since the last run ("Recompute now")
        """
        # The hits still waiting first (mailing opens and clicks, page views
        # of the bridges): the run then sees the points they bring.
        self.env["lead.scoring.hit.queue"]._score_all_queues(commit=commit)
        if self.env.context.get("lead_scoring_engine"):
            return False
        return Recompute(self, full=full).run(commit=commit)

    @api.model
    def _mark_scores_dirty(self, model_ids):
        """Record, in the current transaction, that these models' ledgers changed."""
        self.env.cr.execute(
            SQL(
                "UPDATE lead_scoring_model SET scores_dirty = TRUE"
                " WHERE id = ANY(%s) AND NOT scores_dirty",
                list(model_ids),
            )
        )
        self.invalidate_model(["scores_dirty"])

    @api.model
    def _flag_primary_sync(self, targets, pending=True):
        """Flag (or clear) the scoring models of these targets for a full copy
        of the primary scores, in the transaction that changes which model is primary."""
        self.env.cr.execute(
            SQL(
                "UPDATE lead_scoring_model SET primary_sync_pending = %s"
                " WHERE target = ANY(%s) AND primary_sync_pending != %s",
                pending,
                list(set(targets)),
                pending,
            )
        )
        self.invalidate_model(["primary_sync_pending"])

    @api.model
    def _target_records_for(self, target):
        return self.env[registered_targets(self.env)[target].model_name].sudo()

    @api.model
    def _cron_recompute_scores(self):
        """Recompute every active scoring model (scheduled action).

        Archived models take part only so that the contact/deal scores they
        used to provide are moved to the next primary model.
        """
        # A handful of scoring models: reading them all is the point.
        scoring_models = self.sudo().with_context(active_test=False)
        # Drafts score nothing (the engine leaves them out too).
        return scoring_models.search([("state", "=", "live")])._recompute_scores(commit=True)
