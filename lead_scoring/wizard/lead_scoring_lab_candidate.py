from collections import defaultdict
from typing import NamedTuple

from odoo import api, fields, models
from odoo.tools import SQL

from .. import lab_math

# A candidate rule matches at least this many outcomes...
CANDIDATE_MIN_HITS = 20
# ... and the lab shows at most this many, by information value.
CANDIDATE_COUNT = 20
# The best candidates by information value whose suggested points are
# fitted: a few more than shown, so that those that merely repeat a rule
# (the same outcomes) can be dropped.
CANDIDATE_POOL = 40
CANDIDATE_TYPES = ("many2one", "many2many", "selection", "boolean")
# Models whose records are people or bookkeeping, not segments of customers.
EXCLUDED_COMODELS = ("res.users", "res.company", "res.currency", "ir.attachment")
EXCLUDED_PREFIXES = ("message_", "activity_", "website_message", "lead_scoring")


class Condition(NamedTuple):
    """A single condition found in the data: ``field = value``."""

    field: object  # odoo.fields.Field
    value: object
    won_hits: int
    lost_hits: int
    information_value: float

    def domain(self):
        if self.field.type == "many2many":
            return [(self.field.name, "in", [self.value])]
        return [(self.field.name, "=", self.value)]


class LeadScoringLabCandidate(models.TransientModel):
    """A rule the scoring model does not have yet, discovered in the data:
    a single condition on a stored field of the scored records (a country,
    a tag, a source, a priority, a yes/no field) that tells won from lost."""

    _name = "lead.scoring.lab.candidate"
    _description = "Scoring Lab Candidate Rule"
    _order = "lab_id, information_value desc, id"

    lab_id = fields.Many2one("lead.scoring.lab", required=True, ondelete="cascade")
    name = fields.Char(required=True)
    domain = fields.Char(required=True, readonly=True)
    won_hits = fields.Integer(readonly=True)
    lost_hits = fields.Integer(readonly=True)
    lift = fields.Float(
        digits=(16, 2),
        readonly=True,
        help="Won rate among the condition's hits divided by the overall won rate.",
    )
    information_value = fields.Float(
        digits=(16, 3),
        readonly=True,
        help="How strongly the condition separates won from lost outcomes "
        "(above 0.1: useful; above 0.3: strong). Candidates are ranked by it.",
    )
    suggested_points = fields.Float(
        help="Points the condition earns on top of the model's current rules, from a "
        "logistic regression of won/lost on it with the fitted rules held fixed.",
    )
    rule_id = fields.Many2one("lead.scoring.rule", "Added Rule", readonly=True, ondelete="set null")

    def action_add_rule(self):
        """Button "Add as rule": a rule with this condition and the suggested points."""
        self.ensure_one()
        self.lab_id._check_manager()
        if not self.rule_id:
            self.rule_id = self.env["lead.scoring.rule"].create(
                {
                    "model_id": self.lab_id.model_id.id,
                    "name": self.name,
                    "domain": self.domain,
                    "points": self.suggested_points,
                }
            )
        return True

    # ------------------------------------------------------------------
    # Discovery
    # ------------------------------------------------------------------

    @api.model
    def _discover(self, lab, data, table):
        """Values of the candidates of ``lab``: single conditions with at
        least ``CANDIDATE_MIN_HITS`` hits, ranked by information value, not
        repeating a rule, each with its suggested points.

        :param data: the lab's patterns (see ``lead.scoring.lab.pattern_data``)
        :param table: the temporary table of the lab's outcomes
        """
        records = lab._target_records()
        won, lost = (sum(p[k] for p in data["train"] + data["test"]) for k in (1, 2))
        found = []
        for field in self._candidate_fields(records):
            for value, won_hits, lost_hits in self._value_counts(records, field, table, won + lost):
                found.append(
                    Condition(
                        field,
                        value,
                        won_hits,
                        lost_hits,
                        lab_math.information_value(won_hits, lost_hits, won, lost),
                    )
                )
        found.sort(key=lambda c: (-c.information_value, c.field.name, str(c.value)))
        pool = found[:CANDIDATE_POOL]
        by_candidate = self._candidate_patterns(records, pool, table)
        kept = []
        for position, condition in enumerate(pool):
            rows = by_candidate.get(position, [])
            if self._repeats_a_rule(rows, data):
                continue
            kept.append(
                {
                    "name": self._condition_name(condition),
                    "domain": repr(condition.domain()),
                    "won_hits": condition.won_hits,
                    "lost_hits": condition.lost_hits,
                    "lift": lab_math.lift(condition.won_hits, condition.lost_hits, won, lost),
                    "information_value": condition.information_value,
                    "suggested_points": self._suggested_points(rows, data, lab),
                }
            )
            if len(kept) == CANDIDATE_COUNT:
                break
        return kept

    @api.model
    def _candidate_fields(self, records):
        """Stored many2one, many2many, selection and boolean fields of the
        scored model that may segment customers."""
        excluded = records._lead_scoring_lab_excluded_fields()
        for name, field in sorted(records._fields.items()):
            if (
                name in excluded
                or name.startswith(EXCLUDED_PREFIXES)
                or field.type not in CANDIDATE_TYPES
                or not field.store
                or field.company_dependent
                or field.groups
            ):
                continue
            comodel = getattr(field, "comodel_name", None)
            if comodel and (
                comodel == records._name
                or comodel in EXCLUDED_COMODELS
                or comodel.startswith("lead.scoring")
                or comodel not in self.env
            ):
                continue
            yield field

    @api.model
    def _value_counts(self, records, field, table, total):
        """``(value, won hits, lost hits)`` of each value of ``field`` among the
        outcomes with at least ``CANDIDATE_MIN_HITS`` hits, and not all."""
        if field.type == "many2many":
            source = SQL(
                "%(table)s o JOIN %(relation)s t ON t.%(id)s = o.id",
                table=SQL.identifier(table),
                relation=SQL.identifier(field.relation),
                id=SQL.identifier(field.column1),
            )
            value = SQL("t.%s", SQL.identifier(field.column2))
        else:
            source = SQL(
                "%s o JOIN %s t ON t.id = o.id",
                SQL.identifier(table),
                SQL.identifier(records._table),
            )
            value = SQL("t.%s", SQL.identifier(field.name))
        where = SQL("%s IS NOT NULL", value)
        if field.type == "boolean":
            where = SQL("%s AND %s", where, value)  # the condition "is set"
        self.env.cr.execute(
            SQL(
                """
                SELECT %(value)s, count(*) FILTER (WHERE o.won), count(*) FILTER (WHERE NOT o.won)
                  FROM %(source)s
                 WHERE %(where)s
                 GROUP BY 1
                HAVING count(*) >= %(min)s AND count(*) < %(total)s
                """,
                value=value,
                source=source,
                where=where,
                min=CANDIDATE_MIN_HITS,
                total=total,
            )
        )
        return self.env.cr.fetchall()

    @api.model
    def _candidate_patterns(self, records, pool, table):
        """``{position in pool: [(hits, is_test, won, lost)]}``: how each
        candidate's hits spread over the rules' hit patterns, in one query
        whose candidate hits come from the candidates' own domains."""
        if not pool:
            return {}
        hits = SQL(" UNION ALL ").join(
            SQL(
                "SELECT %s AS position, q.id FROM (%s) q",
                position,
                records._search(condition.domain()).select(),
            )
            for position, condition in enumerate(pool)
        )
        self.env.cr.execute(
            SQL(
                """
                SELECT c.position, o.hits, o.is_test,
                       count(*) FILTER (WHERE o.won), count(*) FILTER (WHERE NOT o.won)
                  FROM %(table)s o JOIN (%(hits)s) c ON c.id = o.id
                 GROUP BY 1, 2, 3
                """,
                table=SQL.identifier(table),
                hits=hits,
            )
        )
        by_candidate = defaultdict(list)
        for position, pattern, is_test, won, lost in self.env.cr.fetchall():
            by_candidate[position].append((pattern, is_test, won, lost))
        return by_candidate

    @api.model
    def _repeats_a_rule(self, rows, data):
        """Whether the candidate hits exactly the outcomes some rule hits, or
        exactly those it does not hit (its complement tells nothing more)."""
        hits = sum(won + lost for _pattern, _test, won, lost in rows)
        shared = defaultdict(int)  # rule position: hits in common with the candidate
        for pattern, _test, won, lost in rows:
            for position in pattern:
                shared[position] += won + lost
        rule_hits = defaultdict(int)
        total = 0
        for pattern, won, lost in data["train"] + data["test"]:
            total += won + lost
            for position in pattern:
                rule_hits[position] += won + lost
        return any(
            (shared[position] == hits == count) or (not shared[position] and hits + count == total)
            for position, count in rule_hits.items()
        )

    @api.model
    def _suggested_points(self, rows, data, lab):
        """The candidate's points on top of the fitted rules: a logistic
        regression of won/lost on the candidate alone, each outcome's fitted
        log-odds from the rules held fixed (an offset) and the intercept
        refitted, on the outcomes the rules were fitted on."""
        intercept, coefficients = data["fit"]
        on_all = data.get("fitted_on_all")
        hit_counts = defaultdict(lambda: [0, 0])
        for pattern, is_test, won, lost in rows:
            if on_all or not is_test:
                cell = hit_counts[tuple(pattern)]
                cell[0] += won
                cell[1] += lost
        fit_rows, offsets = [], []
        patterns = data["train"] + (data["test"] if on_all else [])
        for pattern, won, lost in patterns:
            offset = intercept + sum(coefficients[position] for position in pattern)
            hit_won, hit_lost = hit_counts.get(tuple(pattern), (0, 0))
            fit_rows += [(((0, 1.0),), hit_won, hit_lost), ((), won - hit_won, lost - hit_lost)]
            offsets += [offset, offset]
        fit = lab_math.fit_logistic(fit_rows, 1, offsets=offsets)
        return lab_math.scorecard_points(fit.coefficients[0], lab.points_to_double_odds)

    @api.model
    def _condition_name(self, condition):
        """ "Country is Netherlands", "Tags include Services", "Is a Company: yes"."""
        field = condition.field
        label = field._description_string(self.env)
        if field.type == "boolean":
            return self.env._("%(field)s: yes", field=label)
        if field.type == "selection":
            value = dict(field._description_selection(self.env)).get(
                condition.value, condition.value
            )
        else:
            value = self.env[field.comodel_name].sudo().browse(condition.value).display_name
        if field.type == "many2many":
            return self.env._("%(field)s include %(value)s", field=label, value=value)
        return self.env._("%(field)s is %(value)s", field=label, value=value)
