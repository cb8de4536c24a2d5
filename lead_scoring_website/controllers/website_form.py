from odoo.addons.website_crm.controllers import website_form


class WebsiteForm(website_form.WebsiteForm):
    def insert_record(self, request, model, values, custom, meta=None):
        record_id = super().insert_record(request, model, values, custom, meta=meta)
        if model.model == "crm.lead" and record_id:
            request.env["crm.lead"].sudo().browse(record_id)._lead_scoring_website_form_sent()
        return record_id
