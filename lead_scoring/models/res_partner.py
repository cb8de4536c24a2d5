from odoo import api, fields, models
from odoo.tools import SQL, email_normalize
from odoo.tools.translate import LazyTranslate

from ..engine import closed_opportunities_sql

_lt = LazyTranslate(__name__)


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
