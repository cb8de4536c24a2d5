def migrate(cr, version):
    """Indexes that 18.0.1.1.0 no longer declares: Odoo keeps them on upgrade,
    but they mislead the planner (rule_id) or duplicate others (model_id)."""
    cr.execute(
        """
        DROP INDEX IF EXISTS lead_scoring_point__rule_id_index;
        DROP INDEX IF EXISTS lead_scoring_score__model_id_index;
        """
    )
