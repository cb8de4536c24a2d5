from odoo import fields, models


class MailActivity(models.Model):
    _inherit = "mail.activity"

    lead_scoring_threshold_id = fields.Many2one(
        "lead.scoring.threshold",
        "Scheduled by Threshold",
        ondelete="set null",
        index="btree_not_null",
        readonly=True,
        help="The score threshold whose crossing scheduled this activity: it schedules "
        "no other on the record while this one is open.",
    )

    def _action_done(self, feedback=False, attachment_ids=None):
        # Every way Odoo marks activities done (the chatter's Done, "Done &
        # schedule next", action_done, activity_feedback) comes here; the
        # activities are archived or deleted by it, so they fire before.
        self._lead_scoring_activities_done()
        return super()._action_done(feedback=feedback, attachment_ids=attachment_ids)

    def _lead_scoring_activities_done(self):
        """Fire the "Activity done" automation lines on these activities, all
        of them at once per line, each activity once per line. Without such
        a line this costs no query (the lines are cached)."""
        Automation = self.env["lead.scoring.automation"]
        if self and Automation._trigger_lines("activity_done"):
            # An archived activity was done before: doing it again is no news.
            Automation._fire_trigger("activity_done", self.sudo().filtered("active"))

    def _lead_scoring_trigger_match(self, filters):
        """The activities an "Activity done" line limited to ``filters`` keeps."""
        type_ids = filters.get("activity_type_ids")
        if not type_ids:
            return self
        return self.filtered(lambda activity: activity.activity_type_id.id in type_ids)

    def _lead_scoring_document(self):
        """The record this activity is attached to. Not checked for existence:
        Odoo deletes the activities of a record with it, and marking one done
        posts on that record anyway."""
        self.ensure_one()
        model = self.res_model
        if not model or not self.res_id or model not in self.env:
            return self.env["res.partner"].browse()
        # The documents of the activities done together are read together.
        batch = self.browse(self._prefetch_ids)
        prefetch = [activity.res_id for activity in batch if activity.res_model == model]
        return self.env[model].sudo().browse(self.res_id).with_prefetch(prefetch)
