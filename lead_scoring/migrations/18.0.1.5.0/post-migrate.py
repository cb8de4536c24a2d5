def migrate(cr, version):
    """A scoring model's responsible is, by default, who created it: models
    made before the field existed get their creator, not the user the upgrade
    runs as."""
    cr.execute("UPDATE lead_scoring_model SET user_id = create_uid WHERE create_uid IS NOT NULL")
