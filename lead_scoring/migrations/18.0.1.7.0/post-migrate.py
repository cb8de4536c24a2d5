def migrate(cr, version):
    """The ledger's ``model_id`` index, which 18.0.1.7.0 no longer declares:
    ``lead_scoring_point_changed_idx`` starts with ``model_id`` and serves the
    same lookups, and every line written paid for both."""
    cr.execute("DROP INDEX IF EXISTS lead_scoring_point__model_id_index")
