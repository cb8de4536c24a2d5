def migrate(cr, version):
    """Drafts, versions and the scheduled lab arrive: every existing scoring
    model is live, at version 1, without a scheduled lab. The ORM fills new
    columns with their defaults; this covers what it leaves empty."""
    cr.execute(
        """
        UPDATE lead_scoring_model
           SET state = COALESCE(state, 'live'),
               version = CASE WHEN COALESCE(version, 0) < 1 THEN 1 ELSE version END,
               lab_interval = COALESCE(lab_interval, 'none'),
               lab_min_gain = COALESCE(lab_min_gain, 0.02)
         WHERE state IS NULL OR version IS NULL OR version < 1
            OR lab_interval IS NULL OR lab_min_gain IS NULL
        """
    )
