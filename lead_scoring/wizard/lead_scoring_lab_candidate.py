from collections import defaultdict
from typing import NamedTuple

from odoo import api, fields, models
from odoo.tools import SQL

from .. import lab_math

# A candidate rule matches at least this many outcomes...
CANDIDATE_MIN_HITS = 20
# ... and the lab shows at most this many, by information value.
CANDIDATE_COUNT = 20
# The best candidates by information value that are checked against the
# rules: a few more than shown, so that those that merely repeat a rule (the
# same outcomes) can be dropped.
CANDIDATE_POOL = 40
CANDIDATE_TYPES = ("many2one", "many2many", "selection", "boolean")
# Below this information value a condition is usually taken as not predictive.
PREDICTIVE_IV = 0.02
# Models whose records are people, bookkeeping or conversations, not
# segments of customers.
EXCLUDED_COMODELS = (
    "res.users",
    "res.company",
    "res.currency",
    "ir.attachment",
    "mail.message",
    "mail.activity",
    "discuss.channel",
    "calendar.event",
)
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
        help="Information value: how strongly the condition separates won from lost "
        "outcomes (below 0.02: not predictive; above 0.1: useful; above 0.3: strong). "
        "Candidates are ranked by it.",
    )
    is_predictive = fields.Boolean(
        "Predictive",
        compute="_compute_is_predictive",
        help="Information value of at least 0.02: the condition tells won from lost "
        "at all. Below it, adding it as a rule would add noise.",
    )
    suggested_points = fields.Float(
        help="Points the condition earns on top of the model's current rules, from a "
        "logistic regression of won/lost on it with the fitted rules held fixed, over "
        "all outcomes of the window.",
    )
    rule_id = fields.Many2one("lead.scoring.rule", "Added Rule", readonly=True, ondelete="set null")

    @api.depends("information_value")
    def _compute_is_predictive(self):
        for candidate in self:
            candidate.is_predictive = candidate.information_value >= PREDICTIVE_IV

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
        patterns = data["train"] + data["test"]
        won, lost = (sum(p[k] for p in patterns) for k in (1, 2))
        found = [
            Condition(
                field,
                value,
                won_hits,
                lost_hits,
                lab_math.information_value(won_hits, lost_hits, won, lost),
            )
            for field, value, won_hits, lost_hits in self._value_counts(
                records, list(self._candidate_fields(records)), table, won + lost
            )
        ]
        found.sort(key=lambda c: (-c.information_value, c.field.name, str(c.value)))
        kept = self._without_repeats(records, found[:CANDIDATE_POOL], table, patterns, won + lost)
        by_log_odds = self._spread_by_log_odds(records, kept, table, data["fit"])
        return [
            {
                "name": self._condition_name(condition),
                "domain": repr(condition.domain()),
                "won_hits": condition.won_hits,
                "lost_hits": condition.lost_hits,
                "lift": lab_math.lift(condition.won_hits, condition.lost_hits, won, lost),
                "information_value": condition.information_value,
                "suggested_points": self._suggested_points(by_log_odds, position, lab),
            }
            for position, condition in enumerate(kept)
        ]

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
    def _value_counts(self, records, fields, table, total):
        """``(field, value, won hits, lost hits)`` of each value of ``fields``
        among the outcomes with at least ``CANDIDATE_MIN_HITS`` hits, and not
        all: the columns of the scored table in one pass (a grouping set per
        field), each many2many through its relation table."""
        having = SQL("HAVING count(*) >= %s AND count(*) < %s", CANDIDATE_MIN_HITS, total)
        counts = []
        columns = [field for field in fields if field.type != "many2many"]
        if columns:
            names = [SQL("t.%s", SQL.identifier(field.name)) for field in columns]
            self.env.cr.execute(
                SQL(
                    """
                    SELECT count(*) FILTER (WHERE o.won), count(*) FILTER (WHERE NOT o.won),
                           %(grouped)s, %(values)s
                      FROM %(table)s o JOIN %(target)s t ON t.id = o.id
                     GROUP BY GROUPING SETS (%(sets)s) %(having)s
                    """,
                    grouped=SQL(", ").join(SQL("GROUPING(%s)", name) for name in names),
                    values=SQL(", ").join(names),
                    table=SQL.identifier(table),
                    target=SQL.identifier(records._table),
                    sets=SQL(", ").join(SQL("(%s)", name) for name in names),
                    having=having,
                )
            )
            size = len(columns)
            for row in self.env.cr.fetchall():
                position = row[2 : 2 + size].index(0)  # the field grouped by
                value = row[2 + size + position]
                # NULL is no condition; a boolean's condition is "is set".
                if value is not None and value is not False:
                    counts.append((columns[position], value, row[0], row[1]))
        for field in fields:
            if field.type == "many2many":
                self.env.cr.execute(
                    SQL(
                        """
                        SELECT r.%(value)s, count(*) FILTER (WHERE o.won),
                               count(*) FILTER (WHERE NOT o.won)
                          FROM %(table)s o JOIN %(relation)s r ON r.%(id)s = o.id
                         GROUP BY 1 %(having)s
                        """,
                        value=SQL.identifier(field.column2),
                        table=SQL.identifier(table),
                        relation=SQL.identifier(field.relation),
                        id=SQL.identifier(field.column1),
                        having=having,
                    )
                )
                counts += [(field, *row) for row in self.env.cr.fetchall()]
        return counts

    @api.model
    def _hits_sql(self, records, conditions):
        """``(position, id)`` of the records each condition matches, from the
        conditions' own domains (what the rule made of one would match)."""
        if not conditions:
            return SQL("SELECT NULL::int AS position, NULL::int AS id WHERE FALSE")
        return SQL(" UNION ALL ").join(
            SQL(
                "SELECT %s AS position, q.id FROM (%s) q",
                position,
                records._search(condition.domain()).select(),
            )
            for position, condition in enumerate(conditions)
        )

    @api.model
    def _without_repeats(self, records, pool, table, patterns, total):
        """The first ``CANDIDATE_COUNT`` conditions of ``pool`` that neither
        hit exactly the outcomes some rule hits nor exactly those it misses
        (the complement of a rule tells nothing more). Only a condition with
        as many hits as a rule (or as the rule misses) can repeat it: the
        outcomes those share with each rule are counted in one query."""
        rule_hits = defaultdict(int)
        for pattern, won, lost in patterns:
            for position in pattern:
                rule_hits[position] += won + lost
        counts = set(rule_hits.values()) | {total - count for count in rule_hits.values()}
        suspects = [c for c in pool if c.won_hits + c.lost_hits in counts]
        shared = {}
        if suspects:
            self.env.cr.execute(
                SQL(
                    """
                    SELECT c.position, rule, count(*)
                      FROM %(table)s o JOIN (%(hits)s) c ON c.id = o.id, unnest(o.hits) rule
                     GROUP BY c.position, rule
                    """,
                    table=SQL.identifier(table),
                    hits=self._hits_sql(records, suspects),
                )
            )
            shared = {suspect: {} for suspect in suspects}
            for position, rule, count in self.env.cr.fetchall():
                shared[suspects[position]][rule] = count

        def repeats(condition):
            hits = condition.won_hits + condition.lost_hits
            common = shared.get(condition)
            return common is not None and any(
                (common.get(position) == hits == count)
                or (not common.get(position) and hits + count == total)
                for position, count in rule_hits.items()
            )

        return [condition for condition in pool if not repeats(condition)][:CANDIDATE_COUNT]

    @api.model
    def _spread_by_log_odds(self, records, conditions, table, fit):
        """``{position: {(log-odds, is_test): [won, lost]}}``: the hits of
        each condition (position -1: all outcomes) by the log-odds the fitted
        rules give them, rounded to 0.01: a few hundred groups instead of
        every hit pattern, with no loss that matters. The log-odds are
        written on the outcome table first, once per outcome."""
        self.env.cr.execute(
            SQL(
                """
                UPDATE %(table)s o
                   SET log_odds = ROUND((%(intercept)s + COALESCE((
                           SELECT SUM((%(coefficients)s::float8[])[h + 1])
                             FROM unnest(o.hits) h), 0))::numeric, 2)::float8
                """,
                table=SQL.identifier(table),
                intercept=fit[0],
                coefficients=fit[1],
            )
        )
        self.env.cr.execute(
            SQL(
                """
                SELECT -1, o.log_odds, o.is_test,
                       count(*) FILTER (WHERE o.won), count(*) FILTER (WHERE NOT o.won)
                  FROM %(table)s o GROUP BY 2, 3
                 UNION ALL
                SELECT c.position, o.log_odds, o.is_test,
                       count(*) FILTER (WHERE o.won), count(*) FILTER (WHERE NOT o.won)
                  FROM %(table)s o JOIN (%(hits)s) c ON c.id = o.id GROUP BY 1, 2, 3
                """,
                table=SQL.identifier(table),
                hits=self._hits_sql(records, conditions),
            )
        )
        by_log_odds = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        for position, log_odds, is_test, won, lost in self.env.cr.fetchall():
            cell = by_log_odds[position][log_odds, is_test]
            cell[0] += won
            cell[1] += lost
        return by_log_odds

    @api.model
    def _suggested_points(self, by_log_odds, position, lab):
        """The candidate's points on top of the fitted rules: a logistic
        regression of won/lost on the candidate alone, each outcome's
        log-odds from the fitted rules held fixed (an offset) and the
        intercept refitted, on every outcome of the window. Candidates are
        not part of the measured AUC, and a condition that only appeared in
        the last months (a new campaign) deserves its points too."""
        rows, offsets = [], []
        hit_cells = by_log_odds.get(position, {})
        for (log_odds, is_test), (won, lost) in sorted(by_log_odds[-1].items()):
            hit_won, hit_lost = hit_cells.get((log_odds, is_test), (0, 0))
            rows += [(((0, 1.0),), hit_won, hit_lost), ((), won - hit_won, lost - hit_lost)]
            offsets += [log_odds, log_odds]
        fit = lab_math.fit_logistic(rows, 1, offsets=offsets)
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
