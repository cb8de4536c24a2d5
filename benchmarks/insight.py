"""The sales rep's insight, measured as a salesperson's web client asks for
it: the first routine run of a day, the contacts' "Top 10%", "Rising" and
"Cooling down" filters as the list view loads them, "Top 10%" on the score
rows, and one contact's form read with its queries counted.

The steps of bench_insight.py, which bench_preview.py also runs on its
database. No side effect on import (see ``harness.py``).
"""

import contextlib
import logging

from harness import recompute, turn_the_day
from lxml import etree

from odoo.tools import SQL

# The goals of SPEC part 3 ("Insight for the sales rep").
GOALS = {"top_seconds": 1.0, "form_queries": 30}
# What the web client asks for a page of an ungrouped list (relational_model.js).
PAGE = 80
COUNT_LIMIT = 10_001
TOP_10 = [("lead_score_ids", "any", [("percentile", ">=", 90)])]
RISING = [("lead_score_ids", "any", [("trend_direction", "=", "up")])]
COOLING = [("lead_score_ids", "any", [("trend_direction", "=", "down")])]


def salesperson(bench):
    """A salesperson (Sales: User: Own Documents Only; reads scores)."""
    env = bench.env
    user = env["res.users"].create(
        {
            "name": "Verkoper Bench",
            "login": "bench_salesman",
            "groups_id": [(6, 0, [env.ref("sales_team.group_sale_salesman").id])],
        }
    )
    bench.cr.commit()
    return bench.env(user=user.id)


def field_spec(model, nodes):
    """The web client's specification of the fields of ``nodes`` (field
    elements of a view, without those of their subviews): a relational
    field with its display name, a one2many or many2many with the fields of
    its subview when the view has one (as the form's contacts and scores)."""
    spec = {}
    for node in nodes:
        name = node.get("name")
        field = model._fields.get(name)
        if field is None:
            continue
        spec.setdefault(name, {})
        if field.type in ("many2one", "many2many", "one2many"):
            spec[name] = {"fields": {"display_name": {}}}
        subviews = node.xpath("./list | ./kanban")
        if field.type in ("one2many", "many2many") and subviews:
            spec[name] = {
                "fields": field_spec(model.env[field.comodel_name], fields_of(subviews[0]))
            }
    return spec


def fields_of(tree):
    """The field elements of ``tree`` that are not inside another field."""
    level = tree.xpath("count(ancestor-or-self::field)")
    return tree.xpath(f".//field[count(ancestor::field) = {level:g}]")


def list_spec(model):
    arch = model.get_views([(False, "list")])["views"]["list"]["arch"]
    return field_spec(model, fields_of(etree.fromstring(arch)))


def form_spec(record):
    """Every field of the contact form, the fields of its subviews (contacts,
    scores with the columns of the Scores list) included, as the web client
    asks for them (test_insight.py's test_contact_form_with_trend_... asks the
    same of ``Form``'s specification)."""
    arch = record.get_views([(False, "form")])["views"]["form"]["arch"]
    return field_spec(record, fields_of(etree.fromstring(arch)))


def search_page(bench, env, model_name, domain, name, spec, show_queries=False):
    """One page of a list with a filter, as the web client loads it:
    ``web_search_read`` (first 80 records and the count up to 10,001)."""
    env.invalidate_all()
    with logged_queries(show_queries) as queries, bench.measure(name, 0) as step:
        result = env[model_name].web_search_read(domain, spec, limit=PAGE, count_limit=COUNT_LIMIT)
        step.records = result["length"]
        step.note = f"{len(result['records'])} records on the page, count {result['length']:,}"
    print_queries(queries, slowest=5)
    return step


def exact_count(bench, env, model_name, domain, name):
    env.invalidate_all()
    with bench.measure(name, 0) as step:
        step.records = env[model_name].search_count(domain)
        step.note = f"{step.records:,} records"
    return step


def form_record(bench, scoring_models, company):
    """A contact with scores in the most models and an opportunity (a
    person), or the company with the most contacts (``company``)."""
    if company:
        bench.cr.execute(
            """
            SELECT parent_id FROM res_partner WHERE parent_id IS NOT NULL AND active
             GROUP BY parent_id ORDER BY count(*) DESC, parent_id LIMIT 1
            """
        )
    else:
        bench.cr.execute(
            SQL(
                """
                SELECT s.partner_id FROM lead_scoring_score s
                  JOIN res_partner p ON p.id = s.partner_id AND p.active AND NOT p.is_company
                 WHERE EXISTS (SELECT 1 FROM crm_lead l WHERE l.partner_id = s.partner_id)
                 GROUP BY s.partner_id ORDER BY count(*) DESC, s.partner_id LIMIT 1
                """
            )
        )
    return bench.cr.fetchone()[0]


class QueryLog(logging.Handler):
    """The statements Odoo's cursor logs (``odoo.sql_db`` at DEBUG), kept."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.queries = []

    def emit(self, record):
        if len(record.args) == 2:  # "[%.3f ms] query: %s"
            self.queries.append((record.args[0], " ".join(str(record.args[1]).split())))


@contextlib.contextmanager
def logged_queries(enabled):
    """Keep the statements sent in the block, ``(ms, statement)`` each
    (``--show-queries``)."""
    log = QueryLog()
    logger = logging.getLogger("odoo.sql_db")
    level, propagate = logger.level, logger.propagate
    if enabled:
        logger.addHandler(log)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
    try:
        yield log.queries
    finally:
        if enabled:
            logger.removeHandler(log)
            logger.setLevel(level)
            logger.propagate = propagate


def print_queries(queries, slowest=None):
    """The statements of a step, in order, or its ``slowest`` few."""
    if slowest:
        queries = sorted(queries, key=lambda query: -query[0])[:slowest]
    for number, (ms, query) in enumerate(queries, 1):
        print(f"    {number:>2}. {ms:8.1f} ms  {query[:150]}")


def read_form(bench, env, partner_id, name, show_queries=False):
    partner = env["res.partner"].browse(partner_id)
    spec = form_spec(partner)
    env.invalidate_all()
    with logged_queries(show_queries) as queries, bench.measure(name, 1) as step:
        [values] = partner.web_read(spec)
    print_queries(queries)
    rows = values.get("lead_score_ids") or []
    step.note = (
        f"{len(spec)} fields, {len(rows)} score rows: "
        + ", ".join(
            f"{row['model_id']['display_name']} {row['score']:g} {row.get('trend_arrow', '')} "
            f"p{row.get('percentile', '')}"
            for row in rows
        )
        + f", {len(values.get('child_ids') or [])} contacts"
    )
    return step


def insight_phase(bench, scoring_models):
    """The steps of this benchmark, on a database with scores and a history."""
    results = bench.results.setdefault("insight", {})
    turn_the_day(bench)
    step = recompute(bench, "(g) first routine run of a day")
    results["first_run_seconds"] = step.seconds
    env = salesperson(bench)
    partner_spec = list_spec(env["res.partner"])
    score_spec = list_spec(env["lead.scoring.score"])
    for label, domain, key in (
        ("Top 10%", TOP_10, "top"),
        ("Rising", RISING, "rising"),
        ("Cooling down", COOLING, "cooling"),
    ):
        first = search_page(
            bench, env, "res.partner", domain, f"contacts {label}: page", partner_spec
        )
        again = search_page(
            bench,
            env,
            "res.partner",
            domain,
            f"contacts {label}: page again",
            partner_spec,
            bench.args.show_queries,
        )
        count = exact_count(bench, env, "res.partner", domain, f"contacts {label}: exact count")
        results[key] = {
            "seconds": first.seconds,
            "again_seconds": again.seconds,
            "queries": first.queries,
            "count_seconds": count.seconds,
            "count": count.records,
        }
    step = search_page(
        bench,
        env,
        "lead.scoring.score",
        [("percentile", ">=", 90)],
        "score rows Top 10%: page",
        score_spec,
    )
    results["top_rows_seconds"] = step.seconds
    results["top_rows_count"] = step.records
    for label, company in (("person", False), ("company", True)):
        partner_id = form_record(bench, scoring_models, company)
        step = read_form(bench, env, partner_id, f"contact form ({label}): web_read")
        again = read_form(
            bench, env, partner_id, f"contact form ({label}): again", bench.args.show_queries
        )
        results[f"form_{label}"] = {
            "seconds": step.seconds,
            "queries": step.queries,
            "again_seconds": again.seconds,
            "again_queries": again.queries,
            "note": step.note,
        }


def verdict(value, goal, unit):
    return f"≤ {goal:g} {unit}: " + ("met" if value <= goal else "NOT MET")


def print_figures(results):
    """The insight figures measured (all of them, or those measured before
    an error), each with its goal."""
    rows = []
    if "first_run_seconds" in results:
        rows.append(("first routine run of a day", f"{results['first_run_seconds']:.2f} s", ""))
    for key, label in (("top", "Top 10%"), ("rising", "Rising"), ("cooling", "Cooling down")):
        figures = results.get(key)
        if not figures:
            continue
        rows.append(
            (
                f"contacts {label}: page of 80 + count",
                f"{figures['seconds']:.2f} s",
                (verdict(figures["seconds"], GOALS["top_seconds"], "s") if key == "top" else "")
                + f" ({figures['queries']} queries; again {figures['again_seconds']:.2f} s; "
                f"exact count {figures['count']:,} in {figures['count_seconds']:.2f} s)",
            )
        )
    if "top_rows_seconds" in results:
        rows.append(
            (
                "score rows Top 10%: page of 80 + count",
                f"{results['top_rows_seconds']:.2f} s",
                f"{results['top_rows_count']:,} rows",
            )
        )
    for label in ("person", "company"):
        figures = results.get(f"form_{label}")
        if not figures:
            continue
        rows.append(
            (
                f"contact form ({label}): queries",
                f"{figures['again_queries']}",
                verdict(figures["again_queries"], GOALS["form_queries"], "queries")
                + f" ({figures['again_seconds']:.2f} s; first read, registry caches "
                f"cold: {figures['queries']} queries, {figures['seconds']:.2f} s)",
            )
        )
    print()
    print(f"{'insight figure':<46} {'measured':>12}  goal")
    print("-" * 96)
    for name, value, goal in rows:
        print(f"{name:<46} {value:>12}  {goal}")
