from collections import defaultdict
from functools import partial

from odoo import api, fields, models
from odoo.tools import SQL

from ..engine import estimated_rows, registered_targets


class LeadScoringChange(models.Model):
    """Scored records written since the last recompute: the records the next
    run re-evaluates its rules on, instead of every record.

    Insert-only for writers; the recompute takes the rows it sees at its start
    and deletes exactly those at its end, so that a record saved during a run
    is evaluated by the next one, and a run that dies keeps its rows for the
    next one.
    """

    _name = "lead.scoring.change"
    _description = "Changed Scored Record"
    _log_access = False

    target = fields.Selection(selection="_selection_target", required=True, readonly=True)
    res_id = fields.Integer("Record ID", required=True, readonly=True)
    field_names = fields.Char(
        readonly=True,
        help="Comma-separated names of the fields that changed; empty for a "
        "new record (all of them).",
    )
    is_taken = fields.Boolean(
        readonly=True, help="Taken by the recompute that is running (or that died)."
    )

    @api.model
    def _selection_target(self):
        return self.env["lead.scoring.model"]._selection_target()

    def init(self):
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS lead_scoring_change_target_taken_idx
                ON lead_scoring_change (target, is_taken, res_id)
            """
        )

    @api.model
    def _pending(self, target):
        """What this transaction recorded for ``target`` so far, written just
        before it commits: ``({record id: field names or None},
        {(path, field name): related ids})``."""
        data = self.env.cr.precommit.data
        key = f"lead_scoring.changes.{target}"
        if key not in data:
            data[key] = ({}, defaultdict(set))
            self.env.cr.precommit.add(partial(self.sudo()._write_recorded, target))
        return data[key]

    @api.model
    def _record(self, target, ids, field_names=None):
        """Remember that these records of ``target`` changed.

        Collected for the whole transaction and written just before it commits,
        in one statement: an import of ten thousand records adds one query,
        not ten thousand, and a rolled-back save leaves nothing behind.

        :param field_names: the fields that changed (None: all, a new record)
        """
        by_id = self._pending(target)[0]
        for record_id in ids:
            if record_id in by_id and by_id[record_id] is None:
                continue
            if field_names is None:
                by_id[record_id] = None
            else:
                by_id.setdefault(record_id, set()).update(field_names)

    @api.model
    def _record_related(self, target, path, field_name, related_ids):
        """Remember that the records of ``target`` whose ``path`` leads to
        ``related_ids`` changed their ``field_name`` (say the deals of a
        contact whose country changed); they are looked up at commit."""
        self._pending(target)[1][path, field_name].update(related_ids)

    @api.model
    def _record_related_changes(self, records, field_names):
        """A rule reads ``records`` through a path (a deal's customer's
        country): queue the scored records that point to them."""
        triggers = self.env["lead.scoring.rule"]._active_triggers()[1].get(records._name)
        ids = [record_id for record_id in records._ids if isinstance(record_id, int)]
        if not triggers or not ids:
            return
        for field_name in field_names:
            for target, path, first_field in triggers.get(field_name, ()):
                self._record_related(target, path, first_field, ids)

    @api.model
    def _write_recorded(self, target):
        """Write the changes recorded in this transaction (before commit, or
        before a recompute in this transaction looks at them)."""
        pending = self.env.cr.precommit.data.pop(f"lead_scoring.changes.{target}", None)
        if not pending:
            return
        by_id, related = pending
        records = self.env[self._target_model_name(target)].sudo().with_context(active_test=False)
        for (path, field_name), related_ids in related.items():
            for record_id in records._search([(path, "in", list(related_ids))]):
                if by_id.get(record_id, ()) is not None:
                    by_id.setdefault(record_id, set()).add(field_name)
        if not by_id:
            return
        ids = sorted(by_id)
        self.env.cr.execute(
            SQL(
                "INSERT INTO lead_scoring_change (target, res_id, field_names, is_taken)"
                " SELECT %s, unnest(%s::int[]), unnest(%s::varchar[]), FALSE",
                target,
                ids,
                [None if by_id[i] is None else ",".join(sorted(by_id[i])) for i in ids],
            )
        )

    @api.model
    def _take(self, target):
        """Take the changes of ``target`` that are committed now.

        :return: how many distinct records the taken changes name
        """
        self._write_recorded(target)
        self.env.cr.execute(
            SQL(
                "UPDATE lead_scoring_change SET is_taken = TRUE WHERE target = %s AND NOT is_taken",
                target,
            )
        )
        self.env.cr.execute(
            SQL(
                "SELECT count(DISTINCT res_id) FROM lead_scoring_change"
                " WHERE target = %s AND is_taken",
                target,
            )
        )
        return self.env.cr.fetchone()[0]

    @api.model
    def _taken_ids(self, target, field_names):
        """Ids of the records of ``target`` named by the taken changes of one
        of these fields (or created).

        A list rather than a subquery: PostgreSQL then knows how few they are
        and looks each one up by index instead of scanning a million records.
        """
        self.env.cr.execute(
            SQL(
                """
                SELECT DISTINCT res_id FROM lead_scoring_change
                 WHERE target = %s AND is_taken
                   AND (field_names IS NULL OR string_to_array(field_names, ',') && %s)
                """,
                target,
                sorted(field_names),
            )
        )
        return [res_id for (res_id,) in self.env.cr.fetchall()]

    @api.model
    def _release(self, target):
        """Forget the taken changes of ``target``: every rule has seen them."""
        self.env.cr.execute(
            SQL("DELETE FROM lead_scoring_change WHERE target = %s AND is_taken", target)
        )

    @api.model
    def _target_table_size(self, target):
        """Planner estimate of the number of records of ``target`` (no scan)."""
        table = self.env[self._target_model_name(target)]._table
        return estimated_rows(self.env.cr, [table]).get(table, 0)

    @api.model
    def _target_model_name(self, target):
        return registered_targets(self.env)[target].model_name
