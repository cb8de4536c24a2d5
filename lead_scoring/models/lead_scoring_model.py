import logging

from odoo import api, fields, models, tools
from odoo.exceptions import UserError, ValidationError
from odoo.osv import expression
from odoo.tools import SQL

from ..domains import domain_error, is_empty, parse_domain
from ..engine import Recompute, find_targets, registered_targets

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


class LeadScoringModel(models.Model):
    _name = "lead.scoring.model"
    _description = "Scoring Model"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    description = fields.Text(translate=True)
    target = fields.Selection(
        selection="_selection_target",
        required=True,
        default="contact",
        help="Contacts are scored on res.partner, deals on CRM opportunities.",
    )
    target_model = fields.Char(compute="_compute_target_model")
    active = fields.Boolean(default=True)
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
    segment_count = fields.Integer("Records in Segment", compute="_compute_segment_count")
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
    use_min_score = fields.Boolean("Minimum Score")
    min_score = fields.Float(help="Scores never go below this value.")
    use_max_score = fields.Boolean("Maximum Score")
    max_score = fields.Float(default=100.0, help="Scores never go above this value.")
    decay_half_life_days = fields.Float(
        "Decay Half-Life (days)",
        help="Points lose half their value after this many days. 0 = no decay.",
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
    scored_count = fields.Integer("Records Scored", compute="_compute_statistics")
    average_score = fields.Float(compute="_compute_statistics")
    live_point_count = fields.Integer("Live Ledger Lines", compute="_compute_statistics")

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

    @api.model_create_multi
    def create(self, vals_list):
        scoring_models = super().create(vals_list)
        # Which model is primary may have changed (cached per target).
        self.env["lead.scoring.rule"]._update_watched_models()
        self._flag_primary_sync(scoring_models.mapped("target"))
        return scoring_models

    def write(self, vals):
        if SCORE_SETTINGS & vals.keys():
            vals = dict(vals, scores_dirty=True)
        old_targets = self.mapped("target")
        res = super().write(vals)
        if PRIMARY_SETTINGS & vals.keys():
            self.env["lead.scoring.rule"]._update_watched_models()
            # The primary model of some records changed: their contact/deal score must follow.
            self._flag_primary_sync(old_targets + self.mapped("target"))
            self.env["lead.scoring.rule"]._trigger_recompute()
        if "active" in vals:
            if not vals["active"]:
                self.rule_ids._close_open_lines()
            self.with_context(active_test=False).automation_ids._sync_automation()
        return res

    def unlink(self):
        targets = self.mapped("target")
        automations = self.with_context(active_test=False).automation_ids
        automations.unlink()
        res = super().unlink()
        self.env["lead.scoring.rule"]._update_watched_models()
        for target in set(targets):
            self._target_records_for(target)._lead_scoring_sync_primary_score()
        return res

    def action_recompute(self):
        """Recompute the scores of these models now (button "Recompute now").

        Every rule is evaluated on every record, not only on the records saved
        since the last run: this also catches data changed behind the ORM's
        back (an import through SQL).
        """
        self.check_access("write")
        if not self.sudo()._recompute_scores(full=True):
            raise UserError(
                self.env._("Scores are being recomputed right now. Try again in a minute.")
            )
        return True

    def _refresh_all_bands(self):
        """Relabel the scores of these models after their bands changed."""
        for scoring_model in self.sudo():
            self.env["lead.scoring.score"].sudo()._refresh_bands(scoring_model)
        for target in set(self.mapped("target")):
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

    def _recompute_scores(self, commit=False, full=False):
        """Evaluate rules, expire lines, refresh scores and bands, then fire
        thresholds (see ``engine.Recompute``). Runs as superuser.

        :param commit: commit each step (the cron)
        :param full: evaluate every rule on every record, not only on the
            records saved since the last run ("Recompute now")
        """
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
        # pylint: disable=no-search-all
        return scoring_models.search([])._recompute_scores(commit=True)
