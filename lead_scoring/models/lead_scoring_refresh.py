from odoo import api, fields, models
from odoo.tools import SQL


class LeadScoringRefresh(models.Model):
    """Scores whose ledger lines a rule changed since they were last computed.

    Insert-only, written by the statement that changes the lines (so a run
    that dies before the refresh leaves them for the next run) and emptied by
    the refresh: cheaper than marking the score rows, each of which would be
    rewritten with all its indexes once more.
    """

    _name = "lead.scoring.refresh"
    _description = "Score to Refresh"
    _log_access = False

    model_id = fields.Many2one(
        "lead.scoring.model",
        string="Scoring Model",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    res_id = fields.Integer("Record ID", required=True, readonly=True)

    @api.model
    def _insert_sql(self, scoring_model, target_ids_sql):
        """Data-modifying SQL queueing the records of ``target_ids_sql`` (a
        query of one column) for refresh, unless the whole model is refreshed."""
        return SQL(
            """
            INSERT INTO lead_scoring_refresh (model_id, res_id)
            SELECT %(model)s, touched.target_id FROM (%(targets)s) touched(target_id)
             WHERE (SELECT scores_dirty FROM lead_scoring_model
                     WHERE id = %(model)s) IS NOT TRUE
            """,
            model=scoring_model.id,
            targets=target_ids_sql,
        )

    @api.model
    def _queued_ids_sql(self, scoring_model):
        return SQL("SELECT res_id FROM lead_scoring_refresh WHERE model_id = %s", scoring_model.id)

    @api.model
    def _clear(self, scoring_model):
        """Empty the queue of a model, once its scores are refreshed."""
        self.env.cr.execute(
            SQL("DELETE FROM lead_scoring_refresh WHERE model_id = %s", scoring_model.id)
        )
