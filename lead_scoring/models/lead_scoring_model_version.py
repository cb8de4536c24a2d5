from odoo import api, fields, models
from odoo.exceptions import RedirectWarning, UserError


class LeadScoringModelVersion(models.Model):
    """A configuration a scoring model had before a draft was published over
    it: its segment, rules, thresholds, bands and grades, to look back at and
    to restore as a draft (a rollback is a publish like any other)."""

    _name = "lead.scoring.model.version"
    _description = "Scoring Model Version"
    _order = "model_id, number desc"

    model_id = fields.Many2one(
        "lead.scoring.model",
        string="Scoring Model",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    company_id = fields.Many2one(related="model_id.company_id")
    number = fields.Integer(required=True, readonly=True)
    name = fields.Char(compute="_compute_name", store=True)
    date = fields.Datetime(required=True, default=fields.Datetime.now, readonly=True)
    user_id = fields.Many2one(
        "res.users",
        "Published By",
        readonly=True,
        help="Who published the draft that replaced this configuration.",
    )
    config = fields.Json(
        "Configuration",
        readonly=True,
        help="Technical: the segment, settings, rules, thresholds, bands and grades.",
    )
    note = fields.Text(
        "Changes", readonly=True, help="What the publish that replaced this version changed."
    )
    rule_count = fields.Integer("Rules", compute="_compute_rule_count")

    _sql_constraints = [
        (
            "model_number_uniq",
            "UNIQUE(model_id, number)",
            "A scoring model has one version of each number.",
        ),
    ]

    @api.depends("number")
    def _compute_name(self):
        for version in self:
            version.name = f"v{version.number}"

    @api.depends("config")
    def _compute_rule_count(self):
        for version in self:
            version.rule_count = len((version.config or {}).get("rules", []))

    def action_restore_draft(self):
        """Button "Restore as Draft": a draft of the live model holding this
        version's configuration, to preview and publish."""
        self.ensure_one()
        scoring_model = self.model_id
        scoring_model._check_scoring_manager()
        if scoring_model.state != "live":
            raise UserError(self.env._("Only the versions of a live scoring model are restored."))
        draft = scoring_model.draft_ids[:1]
        if draft:
            raise RedirectWarning(
                self.env._(
                    "%(model)s already has a draft pending. Publish or delete it, then "
                    "restore %(version)s.",
                    model=scoring_model.name,
                    version=self.name,
                ),
                draft._form_action(),
                self.env._("Open the Draft"),
            )
        draft = scoring_model._create_draft(config=self.config)
        draft.message_post(
            body=self.env._("Restored from %(version)s.", version=self.name),
            subtype_xmlid="mail.mt_note",
        )
        return draft._form_action()
