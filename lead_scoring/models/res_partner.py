from odoo import api, fields, models
from odoo.tools import SQL, email_normalize
from odoo.tools.translate import LazyTranslate

from ..engine import closed_opportunities_sql, lead_grade_changes_sql

_lt = LazyTranslate(__name__)

# The scoring models whose band codes make the lead grade (fit x engagement: A1).
FIT_MODEL_PARAM = "lead_scoring.fit_model_id"
ENGAGEMENT_MODEL_PARAM = "lead_scoring.engagement_model_id"
# Fields of another model that lead to its contact (see _lead_scoring_find_targets).
RECORD_FIELDS = {"partner_id", "res_id", "email_normalized", "email_from", "email"}


class ResPartner(models.Model):
    _name = "res.partner"
    _inherit = ["res.partner", "lead.scoring.mixin"]
    _lead_scoring_target = "contact"
    _lead_scoring_target_label = _lt("Contacts")
    _lead_scoring_column = "partner_id"
    _lead_scoring_score_field = "contact_score"
    _lead_scoring_band_field = "contact_band_id"
    _lead_scoring_sequence = 10

    contact_score = fields.Float(
        readonly=True,
        index=True,
        copy=False,
        default=0.0,
        groups="lead_scoring.group_lead_scoring_user",
        help="Score in the first active contact scoring model of this contact's company.",
    )
    contact_band_id = fields.Many2one(
        "lead.scoring.band",
        "Contact Score Band",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="set null",
        groups="lead_scoring.group_lead_scoring_user",
        help="Band of the contact score.",
    )
    lead_grade = fields.Char(
        readonly=True,
        copy=False,
        index="btree_not_null",
        groups="lead_scoring.group_lead_scoring_user",
        help="Fit x engagement: the band code in the fit model and the band code in "
        "the engagement model picked in the CRM settings (A1 = best fit, most engaged).",
    )
    lead_score_ids = fields.One2many(
        "lead.scoring.score",
        "partner_id",
        string="Scores",
        groups="lead_scoring.group_lead_scoring_user",
    )
    lead_scoring_point_ids = fields.One2many(
        "lead.scoring.point",
        "partner_id",
        string="Score History",
        groups="lead_scoring.group_lead_scoring_user",
    )

    lead_scoring_model_score = fields.Float(
        "Score in Model",
        compute="_compute_lead_scoring_model_score",
        groups="lead_scoring.group_lead_scoring_user",
        help="Score of the contact in the scoring model of the roll-up it was opened from "
        "(0 without a score there): what it adds to its company's roll-up.",
    )

    @api.depends_context("lead_scoring_model_id")
    def _compute_lead_scoring_model_score(self):
        model_id = self.env.context.get("lead_scoring_model_id")
        scores = {}
        if model_id and self.ids:
            scores = {
                score.partner_id.id: score.score
                for score in self.env["lead.scoring.score"].search(
                    [("model_id", "=", model_id), ("partner_id", "in", self.ids)]
                )
            }
        for partner in self:
            partner.lead_scoring_model_score = scores.get(partner._origin.id, 0.0)

    def _children_sync(self, values):
        # A score belongs to one contact: nothing to pass on to its contacts.
        # (Odoo would otherwise walk and rewrite every company's contacts.)
        if values.keys() <= set(self._lead_scoring_fields()):
            return
        return super()._children_sync(values)

    @api.model
    def _lead_scoring_find_target(self, record):
        # The record's customer, its document reference, else the first
        # contact with its e-mail address.
        if (
            "partner_id" in record._fields
            and record._fields["partner_id"].comodel_name == "res.partner"
            and record.partner_id
        ):
            return record.partner_id
        target = super()._lead_scoring_find_target(record)
        if target:
            return target
        email = next(
            (
                record[name]
                for name in ("email_normalized", "email_from", "email")
                if name in record._fields and record[name]
            ),
            False,
        )
        normalized = email and email_normalize(email)
        if not normalized:
            return self.browse()
        return self.search([("email_normalized", "=", normalized)], order="id", limit=1)

    @api.model
    def _lead_scoring_find_targets(self, records):
        # The same rule as _lead_scoring_find_target for all of them at once:
        # their customers (no query once read), the contacts their document
        # references point to (one query), else the first active contact by id
        # with their e-mail address (one query).
        if not RECORD_FIELDS & records._fields.keys():
            return super()._lead_scoring_find_targets(records)
        targets = {}
        field = records._fields.get("partner_id")
        if field and field.type == "many2one" and field.comodel_name == "res.partner":
            targets = {record.id: record.partner_id.id for record in records if record.partner_id}
        rest = records.filtered(lambda record: record.id not in targets)
        targets.update(self._lead_scoring_referenced(rest))
        rest = rest.filtered(lambda record: record.id not in targets)
        targets.update(self._lead_scoring_by_email(rest))
        return targets

    @api.model
    def _lead_scoring_by_email(self, records):
        """``{record id: partner id}``: the first active contact (by id) with
        the normalized e-mail address of each of ``records``."""
        names = [
            name for name in ("email_normalized", "email_from", "email") if name in records._fields
        ]
        emails = {}
        for record in records:
            email = next((record[name] for name in names if record[name]), False)
            normalized = email and email_normalize(email)
            if normalized:
                emails[record.id] = normalized
        if not emails:
            return {}
        first = dict(
            self.sudo()._read_group(
                [("email_normalized", "in", list(set(emails.values())))],
                ["email_normalized"],
                ["id:min"],
            )
        )
        return {record_id: first[email] for record_id, email in emails.items() if email in first}

    def modified(self, fnames, create=False, before=False):
        # A contact moving to another company: its former company's roll-up
        # must be computed again too (queued while the old value is known).
        if before and "parent_id" in fnames and "parent_id" in self._lead_scoring_watched_fields():
            self.sudo().parent_id._lead_scoring_record_change({"child_ids"})
        return super().modified(fnames, create=create, before=before)

    def unlink(self):
        if "parent_id" in self._lead_scoring_watched_fields():
            self.sudo().parent_id._lead_scoring_record_change({"child_ids"})
        return super().unlink()

    @api.model
    def _lead_scoring_scores_changed(self, scoring_model, target_ids):
        res = super()._lead_scoring_scores_changed(scoring_model, target_ids)
        self._lead_scoring_sync_lead_grade(target_ids, scoring_model)
        if scoring_model.rollup != "none" and not self.env.context.get("lead_scoring_engine"):
            # Points added outside a run (automations, manual, API): the next
            # run rolls them up into the contacts' companies.
            self.sudo().browse(target_ids).parent_id._lead_scoring_record_change({"child_ids"})
        return res

    @api.model
    def _lead_scoring_grade_models(self):
        """``(fit model id, engagement model id)`` picked in the settings (or None)."""
        parameters = self.env["ir.config_parameter"].sudo()
        ids = [parameters.get_param(key) for key in (FIT_MODEL_PARAM, ENGAGEMENT_MODEL_PARAM)]
        return tuple(int(value) if value else None for value in ids)

    @api.model
    def _lead_scoring_sync_lead_grade(self, partner_ids=None, scoring_model=None):
        """Bring the lead grade of contacts in line with their bands in the fit
        and engagement models, in one query; written through the ORM so that
        the opportunities' grade follows.

        :param partner_ids: only these contacts (default: every contact)
        :param scoring_model: only when it is the fit or engagement model
        """
        models_ids = self._lead_scoring_grade_models()
        if scoring_model is not None and scoring_model.id not in models_ids:
            return
        if partner_ids is not None and not partner_ids:
            return
        self.flush_model(["lead_grade"])
        self.env["lead.scoring.score"].flush_model()
        self.env["lead.scoring.band"].flush_model()
        self.env.cr.execute(lead_grade_changes_sql(*models_ids, partner_ids))
        partners = self.sudo().with_context(tracking_disable=True, lead_scoring_engine=True)
        for grade, ids in self.env.cr.fetchall():
            partners.browse(ids).write({"lead_grade": grade or False})

    # ------------------------------------------------------------------
    # Scoring lab
    # ------------------------------------------------------------------

    @api.model
    def _lead_scoring_lab_outcomes_sql(self, date_from, date_to):
        # A contact (or company) is won when it is the customer of a won
        # opportunity closed in the window, lost when all of its closed ones
        # there were lost; it closed when its last deciding opportunity did.
        return SQL(
            """
            SELECT c.partner_id AS id, bool_or(c.is_won) AS won,
                   COALESCE(max(c.date_closed) FILTER (WHERE c.is_won),
                            max(c.date_closed)) AS date_closed
              FROM (%s) c
             WHERE c.partner_id IS NOT NULL
             GROUP BY c.partner_id
            """,
            closed_opportunities_sql(date_from, date_to),
        )

    @api.model
    def _lead_scoring_lab_excluded_fields(self):
        # The hierarchy and the salesperson name people, not segments.
        return super()._lead_scoring_lab_excluded_fields() | {
            "parent_id",
            "commercial_partner_id",
            "user_id",
            "contact_band_id",
            "partner_share",  # technical: not an internal user
        }
