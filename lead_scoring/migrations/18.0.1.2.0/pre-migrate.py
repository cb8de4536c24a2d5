def migrate(cr, version):
    """Threshold crossings name their record by id (``res_id``) instead of one
    column per target: fill it before the upgrade makes it required, and drop
    the per-target uniqueness it replaces."""
    cr.execute(
        """
        ALTER TABLE lead_scoring_threshold_crossing ADD COLUMN IF NOT EXISTS res_id integer;
        UPDATE lead_scoring_threshold_crossing
           SET res_id = COALESCE(partner_id, lead_id)
         WHERE res_id IS NULL;
        ALTER TABLE lead_scoring_threshold_crossing
            DROP CONSTRAINT IF EXISTS lead_scoring_threshold_crossing_threshold_partner_uniq,
            DROP CONSTRAINT IF EXISTS lead_scoring_threshold_crossing_threshold_lead_uniq;
        """
    )
