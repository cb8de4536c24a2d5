from odoo import api, models


class LinkTrackerClick(models.Model):
    _inherit = "link.tracker.click"

    @api.model
    def add_click(self, code, **route_values):
        # The one entry point of a click on a mailing's tracked link
        # (/r/<code>/m/<trace id>): it also marks the trace opened.
        click = super().add_click(code, **route_values)
        if click and click.mailing_trace_id:
            click.mailing_trace_id._lead_scoring_hit(
                "mailing_click", links={click.mailing_trace_id.id: click.link_id.id}
            )
        return click
