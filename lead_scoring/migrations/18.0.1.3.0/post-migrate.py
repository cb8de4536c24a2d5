def migrate(cr, version):
    """Scores no longer keep who wrote them and when (``_log_access = False``):
    the engine is their only writer. Odoo leaves removed columns in place;
    these would still cost a foreign-key check on every score written."""
    cr.execute(
        """
        ALTER TABLE lead_scoring_score
            DROP COLUMN IF EXISTS create_uid,
            DROP COLUMN IF EXISTS create_date,
            DROP COLUMN IF EXISTS write_uid,
            DROP COLUMN IF EXISTS write_date
        """
    )
