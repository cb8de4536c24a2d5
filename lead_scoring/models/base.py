from odoo import models


class Base(models.AbstractModel):
    _inherit = "base"

    def modified(self, fnames, create=False, before=False):
        # A rule may read a related record (a deal's customer country): when
        # the ORM reports a change of that record, queue the scored records
        # that point to it. New records have no scored record pointing to them.
        res = super().modified(fnames, create=create, before=before)
        if before or create or not self._ids or "lead.scoring.rule" not in self.env:
            return res
        triggers = self.env["lead.scoring.rule"]._active_triggers()[1].get(self._name)
        if not triggers:
            return res
        ids = [record_id for record_id in self._ids if isinstance(record_id, int)]
        if not ids:
            return res
        changes = self.env["lead.scoring.change"]
        for field_name in fnames:
            for target, path, first_field in triggers.get(field_name, ()):
                changes._record_related(target, path, first_field, ids)
        return res
