"""Build then index: a cold build writes the ledger and the score rows
without their foreign keys and secondary indexes, and puts them back after.

A cold build (the first run after an install, a new scoring model on a large
base) writes millions of ledger lines and score rows at once. Written into
the finished tables, each row fires a foreign-key check per reference (a
query and a row lock on the contact, the deal, the rule, the model) and
updates every index: at a million contacts 65 s for the 3.3M lines of the
cold run against 3.5 s for the same rows in a bare table, then 4 s to build
the indexes and 1 s to validate the keys (benchmarks/README.md).

So the plan of such a run starts with ``start()``: it drops the foreign keys
of ``TABLES`` (but those to ``KEPT_REFERENCES``) and their non-unique
indexes (the primary keys and the unique indexes stay: the rule diff and the
score upsert rely on them), after saving their definitions in a system
parameter, in the same short transaction. Its
last step, ``finish()``, recreates the indexes, adds the keys back
unchecked and validates them (one scan each, without blocking writes on the
tables they point to; a row whose record went away during the build, a
contact deleted meanwhile, gets what the key would have done to it), and
analyses both tables. A run that dies in between leaves the saved definitions: the plan of
the next run, by cron or jobs, starts with ``finish()``.

While the build runs, other sessions find both tables without those
indexes: reading a contact's ledger scans it. Dropping a foreign key takes
an exclusive lock on the table it points to for an instant (PostgreSQL
removes its triggers there too): other requests on contacts and deals wait
for it, at most ``LOCK_TIMEOUT``; a build that cannot have the locks by then
runs the usual way.
"""

import json
import logging
from contextlib import contextmanager

from psycopg2.errors import ForeignKeyViolation, LockNotAvailable

from odoo.tools import SQL, mute_logger

from .recompute import estimated_rows

_logger = logging.getLogger(__name__)

TABLES = ("lead_scoring_point", "lead_scoring_score")
# System parameter holding what start() dropped, until finish() restores it.
PENDING_PARAM = "lead_scoring.bulk_load_pending"
# A scoring model never recomputed with at least this many records to score
# makes a cold build, when the ledger holds fewer lines than that.
MIN_RECORDS = 50_000
# Dropping a foreign key locks the table it points to (res_partner, crm_lead)
# exclusively for an instant; other requests wait for it at most this long.
LOCK_TIMEOUT = "3s"
# Foreign keys kept: rule lines and scores leave these columns empty (no
# check to save), and every request of the instance reads these tables.
KEPT_REFERENCES = ("res_users", "ir_act_server")
# pg_constraint.confdeltype: what removing the referenced record does.
ORPHANS_CASCADE, ORPHANS_SET_NULL = "c", "n"


def pending(env):
    """What a bulk load dropped and did not restore yet (None: nothing)."""
    value = env["ir.config_parameter"].sudo().get_param(PENDING_PARAM)
    return json.loads(value) if value else None


def is_cold(scoring_models):
    """Whether a run of ``scoring_models`` is a cold build: one of them was
    never recomputed (its ledger is still to write) and has many records,
    and the ledger is small beside them. One statement (the planner's
    estimates): asking the ledger whether a model has a line made PostgreSQL
    scan it up to the model's first line (0.22 s at a million contacts)."""
    env = scoring_models.env
    new_models = scoring_models.filtered(
        lambda m: m.active and m.rule_ids and not m.date_last_recompute
    )
    if not new_models:
        return False
    tables = [env[m._target().model_name]._table for m in new_models]
    sizes = estimated_rows(env.cr, {*tables, "lead_scoring_point"})
    records = sum(sizes.get(table, 0) for table in tables if sizes.get(table, 0) >= MIN_RECORDS)
    return records >= MIN_RECORDS and sizes.get("lead_scoring_point", 0) < records


def start(env):
    """Drop the foreign keys and non-unique indexes of ``TABLES``, their
    definitions saved first. Returns False (nothing dropped) when the
    tables' locks could not be had within ``LOCK_TIMEOUT``."""
    cr = env.cr
    # A build that died left its definitions: the tables have lost them since.
    previous = pending(env)
    saved = previous or {"foreign_keys": _foreign_keys(cr), "indexes": _indexes(cr)}
    if not previous:
        env["ir.config_parameter"].sudo().set_param(PENDING_PARAM, json.dumps(saved))
    env.flush_all()
    try:
        # A lock not had in time is an answer, not an error to log.
        with _lock_timeout(cr), cr.savepoint(), mute_logger("odoo.sql_db"):
            for key in saved["foreign_keys"]:
                cr.execute(
                    SQL(
                        "ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s",
                        SQL.identifier(key["table"]),
                        SQL.identifier(key["name"]),
                    )
                )
            for index in saved["indexes"]:
                cr.execute(SQL("DROP INDEX IF EXISTS %s", SQL.identifier(index["name"])))
    except LockNotAvailable:
        if not previous:
            env["ir.config_parameter"].sudo().set_param(PENDING_PARAM, False)
        _logger.info("Lead scoring: ledger locks not available, cold build with its indexes")
        return False
    _logger.info(
        "Lead scoring: cold build, %d foreign keys and %d indexes set aside",
        len(saved["foreign_keys"]),
        len(saved["indexes"]),
    )
    return True


def finish(env):
    """Put back what ``start()`` dropped (see the module's docstring)."""
    saved = pending(env)
    if not saved:
        return
    cr = env.cr
    env.flush_all()
    existing = _existing_names(cr)
    for index in saved["indexes"]:
        if index["name"] not in existing:
            cr.execute(SQL(index["definition"]))  # from pg_indexes: trusted
    for key in saved["foreign_keys"]:
        if key["name"] not in existing:
            _restore_foreign_key(cr, key)
    for table in TABLES:
        cr.execute(SQL("ANALYZE %s", SQL.identifier(table)))
    env["ir.config_parameter"].sudo().set_param(PENDING_PARAM, False)
    _logger.info("Lead scoring: cold build done, indexes and foreign keys restored")


def _restore_foreign_key(cr, key):
    """Add a foreign key back unchecked, then validate it (one scan, writes
    to the table it points to go on). Rows whose record went away during the
    build (rare: validation then fails) get what the key would have done."""
    table, name = SQL.identifier(key["table"]), SQL.identifier(key["name"])
    definition = SQL(key["definition"])  # from pg_get_constraintdef: trusted
    cr.execute(SQL("ALTER TABLE %s ADD CONSTRAINT %s %s NOT VALID", table, name, definition))
    validate = SQL("ALTER TABLE %s VALIDATE CONSTRAINT %s", table, name)
    try:
        with cr.savepoint(), mute_logger("odoo.sql_db"):
            cr.execute(validate)
    except ForeignKeyViolation:
        _drop_orphans(cr, key)
        cr.execute(validate)


def _foreign_keys(cr):
    cr.execute(
        SQL(
            """
            SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid),
                   a.attname, c.confrelid::regclass::text, fa.attname, c.confdeltype
              FROM pg_constraint c
              JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
              JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1]
             WHERE c.contype = 'f' AND c.conrelid = ANY(%s::regclass[])
               AND c.confrelid <> ALL(%s::regclass[])
             ORDER BY 1, 2
            """,
            list(TABLES),
            list(KEPT_REFERENCES),
        )
    )
    names = ("table", "name", "definition", "column", "ref_table", "ref_column", "on_delete")
    return [dict(zip(names, row, strict=True)) for row in cr.fetchall()]


def _indexes(cr):
    cr.execute(
        SQL(
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
              FROM pg_index i
             WHERE i.indrelid = ANY(%s::regclass[])
               AND NOT i.indisunique AND NOT i.indisprimary
             ORDER BY 1
            """,
            list(TABLES),
        )
    )
    return [{"name": name, "definition": definition} for name, definition in cr.fetchall()]


def _existing_names(cr):
    """Names of the constraints and indexes ``TABLES`` have now."""
    cr.execute(
        SQL(
            """
            SELECT conname FROM pg_constraint WHERE conrelid = ANY(%(tables)s::regclass[])
             UNION ALL
            SELECT indexrelid::regclass::text FROM pg_index
             WHERE indrelid = ANY(%(tables)s::regclass[])
            """,
            tables=list(TABLES),
        )
    )
    return {row[0] for row in cr.fetchall()}


def _drop_orphans(cr, key):
    """What the foreign key would have done to the rows whose record went
    away during the build: delete them (cascade) or empty the reference."""
    column, ref = SQL.identifier(key["column"]), SQL.identifier(key["ref_table"])
    missing = SQL(
        "t.%(column)s IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM %(ref)s r WHERE r.%(ref_column)s = t.%(column)s)",
        column=column,
        ref=ref,
        ref_column=SQL.identifier(key["ref_column"]),
    )
    table = SQL.identifier(key["table"])
    if key["on_delete"] == ORPHANS_CASCADE:
        cr.execute(SQL("DELETE FROM %s t WHERE %s", table, missing))
    elif key["on_delete"] == ORPHANS_SET_NULL:
        cr.execute(SQL("UPDATE %s t SET %s = NULL WHERE %s", table, column, missing))


@contextmanager
def _lock_timeout(cr):
    """``lock_timeout`` for the statements of the block, then as it was."""
    cr.execute(SQL("SELECT current_setting('lock_timeout')"))
    previous = cr.fetchone()[0]
    cr.execute(SQL("SELECT set_config('lock_timeout', %s, true)", LOCK_TIMEOUT))
    try:
        yield
    finally:
        cr.execute(SQL("SELECT set_config('lock_timeout', %s, true)", previous))
