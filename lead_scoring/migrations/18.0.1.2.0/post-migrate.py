def migrate(cr, version):
    """Which scoring model is primary is now flagged on the scoring models
    (``primary_sync_pending``), no longer kept as a signature in parameters."""
    cr.execute("DELETE FROM ir_config_parameter WHERE key LIKE 'lead_scoring.primary_models_%%'")
