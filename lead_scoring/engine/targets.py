"""The targets: the Odoo models that are scored, as they declare themselves
by inheriting ``lead.scoring.mixin`` (see ``readme/CONTRIBUTE.md``)."""

from typing import NamedTuple


class Target(NamedTuple):
    """A scored Odoo model, as it declares itself by inheriting ``lead.scoring.mixin``."""

    key: str  # value of lead.scoring.model.target: "contact", "deal"
    model_name: str  # "res.partner"
    column: str  # its column in the ledger and score tables: "partner_id"
    score_field: str  # its primary score field: "contact_score"
    band_field: str  # its primary band field: "contact_band_id"
    sequence: int  # run order: contacts before deals (their thresholds create deals)


def registered_targets(env):
    """``{key: Target}`` of the scored models, in run order (cached per registry)."""
    return env["lead.scoring.model"]._registered_targets()


def find_targets(registry):
    """``{key: Target}`` of the models of ``registry`` that declare a target, in run order."""
    found = []
    for model_name in registry:
        model_class = registry[model_name]
        key = getattr(model_class, "_lead_scoring_target", None)
        if isinstance(key, str) and not model_class._abstract:
            found.append(
                Target(
                    key,
                    model_name,
                    model_class._lead_scoring_column,
                    model_class._lead_scoring_score_field,
                    model_class._lead_scoring_band_field,
                    model_class._lead_scoring_sequence,
                )
            )
    return {target.key: target for target in sorted(found, key=lambda t: (t.sequence, t.key))}
