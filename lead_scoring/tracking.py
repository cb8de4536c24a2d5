"""Change tracking: which saves a rule must hear of. Scored records queue
themselves (``lead.scoring.mixin.modified``); the other models the active
rules read (a tag, a country, a company) get a ``modified()`` that queues the
scored records reading them, installed and removed as rules change
(``lead.scoring.rule._update_watched_models``)."""

# Fields whose change matters to every rule: archived records match no rule,
# and a scoring model of a company scores that company's records only.
ALWAYS_WATCHED = ("active", "company_id")

# Operators whose result depends on other records than the one tested.
RELATIONAL_OPERATORS = {"child_of", "parent_of", "any", "not any"}


def make_watching_modified():
    """A ``modified()`` that also queues the scored records reading the record."""

    def modified(self, fnames, create=False, before=False):
        res = modified.origin(self, fnames, create=create, before=before)
        # New records have no scored record pointing to them yet.
        if not (before or create) and self._ids:
            self.env["lead.scoring.change"]._record_related_changes(self, fnames)
        return res

    modified.lead_scoring_watch = True
    return modified


def is_watched(model_class):
    return getattr(model_class.__dict__.get("modified"), "lead_scoring_watch", False)


def unwatch_models(registry, model_names):
    for model_name in model_names:
        model_class = registry[model_name]
        if is_watched(model_class):
            del model_class.modified
