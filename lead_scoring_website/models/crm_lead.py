from odoo import api, models


class CrmLead(models.Model):
    _inherit = "crm.lead"

    @api.model_create_multi
    def create(self, vals_list):
        leads = super().create(vals_list)
        if any(vals.get("visitor_ids") for vals in vals_list):
            # A visitor linked to a lead (live chat, a salesperson) becomes known.
            leads._lead_scoring_credit_visitors()
        return leads

    def write(self, vals):
        res = super().write(vals)
        if {"partner_id", "visitor_ids"} & vals.keys():
            # The lead of a visitor got its contact (converted, form of a known
            # e-mail), or leads were merged: its visitors' views may count now.
            self._lead_scoring_credit_visitors()
        return res

    @api.model
    def _lead_scoring_find_target(self, record):
        # A page view (or its visitor) scores the visitor's newest lead.
        if record._name == "website.track":
            record = record.visitor_id
        if record._name == "website.visitor":
            return record._lead_scoring_leads()[:1] if record else self.browse()
        return super()._lead_scoring_find_target(record)

    def _lead_scoring_credit_visitors(self):
        lines = self.env["lead.scoring.automation"]._website_page_lines()
        if lines:
            self.sudo().visitor_ids._lead_scoring_credit_views(lines)

    def _lead_scoring_website_form_sent(self):
        """These leads come from the website contact form: fire the "Lead form
        submitted" lines (after creating the contact the contact models need)."""
        lines = self.env["lead.scoring.automation"]._website_form_lines()
        if not lines:
            return
        leads = self.sudo()
        leads._lead_scoring_create_contacts(
            lines.filtered(lambda line: line.model_target == "contact" and line.create_contact)
        )
        lines._fire(leads)

    def _lead_scoring_create_contacts(self, lines):
        """Give a contact to the leads of an e-mail address no contact has, when
        they pass the filter of one of ``lines``: a prospect who left an e-mail
        address is scored as a contact."""
        partners = self.env["res.partner"]
        leads = self.filtered(lambda lead: not lead.partner_id and lead.email_normalized)
        passing = self.browse()
        for line in lines:
            passing |= leads.filtered_domain(line._filter_domain_list())
        for lead in passing:
            if not partners._lead_scoring_find_target(lead):
                lead._handle_partner_assignment(create_missing=True)
