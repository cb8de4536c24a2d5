#!/usr/bin/env python3
"""Benchmark of the scoring lab on a throwaway Odoo 18 database.

Creates a database, installs ``lead_scoring``, bulk-loads customers and closed
opportunities (won and lost, a year of closing dates) with COPY, their outcomes
drawn from a known logistic model over tags, sources, teams, countries,
priorities, revenue and custom fields, then times the scoring lab of a deal
model with R rules: the analysis (outcomes, rule hits, fit, AUCs, lift chart)
and the candidate discovery over F fields of the opportunities, with their
memory. The naive way (one ORM record per opportunity, ``filtered_domain`` per
rule, one fitted row per opportunity) runs on the newest K outcomes in the same
run, next to the lab on the same outcomes, and both must suggest the same points.

Usage: python3 benchmarks/bench_lab.py [--deals N] [--customers C] [--rules R]
       [--fields F] [--naive-size K] [--seed S] [--keep-db] [--json [PATH]]

See benchmarks/README.md for what each figure means.
"""

import argparse
import json
import math
import random
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path

import startup

if __name__ == "__main__":
    startup.prepare_process()  # before Odoo loads

import harness

from odoo import SUPERUSER_ID, fields
from odoo.fields import Command
from odoo.modules.registry import Registry
from odoo.tools import SQL

DB_NAME = f"{harness.DB_PREFIX}_lab"
CRM_TAGS = ["Software", "Services", "Consulting", "Training", "Hardware", "Upsell", "Renewal"]
SOURCES = ["Website", "Referral", "Cold list", "Trade fair", "LinkedIn", "Partner", "Google Ads"]
MEDIUMS = ["Email", "Phone", "Website", "Social", "Banner"]
CAMPAIGNS = ["Webinar 2025", "Spring promo", "Black Friday", "Newsletter", "Roadshow"]
TEAMS = ["Enterprise", "SMB", "Partners"]
PARTNER_TAGS = ["VIP", "Prospect", "Reseller", "Newsletter"]
FREE_MAIL = ["gmail.com", "outlook.com", "hotmail.com"]
# Custom fields companies add to their opportunities: (name, type, values or None).
CUSTOM_FIELDS = [
    ("x_segment", "selection", ["smb", "midmarket", "enterprise", "public"]),
    ("x_lead_quality", "selection", ["a", "b", "c", "d"]),
    ("x_channel", "selection", ["web", "phone", "event", "partner", "other"]),
    ("x_competitor", "selection", ["none", "c1", "c2", "c3"]),
    ("x_preferred_language", "selection", ["nl", "en", "de", "fr"]),
    ("x_company_size", "selection", ["s", "m", "l", "xl", "xxl"]),
    ("x_contract", "selection", ["monthly", "yearly", "multi"]),
    ("x_budget_known", "boolean", None),
    ("x_decision_maker", "boolean", None),
    ("x_newsletter", "boolean", None),
    ("x_demo_requested", "boolean", None),
    ("x_trial", "boolean", None),
    ("x_referral_partner", "boolean", None),
    ("x_existing_customer", "boolean", None),
    ("x_event_visited", "boolean", None),
    ("x_industry_id", "many2one", "res.partner.industry"),
]
# The true model: log-odds of winning, per condition of a deal.
INTERCEPT = -1.9
EFFECTS = {
    ("tag", "Consulting"): 0.8,
    ("tag", "Upsell"): 1.0,
    ("tag", "Hardware"): -0.5,
    ("source", "Referral"): 1.2,
    ("source", "Cold list"): -0.9,
    ("medium", "Email"): 0.3,
    ("campaign", "Webinar 2025"): 0.6,
    ("team", "Enterprise"): 0.4,
    ("country", "NL"): 0.5,
    ("priority", "3"): 0.9,
    ("priority", "0"): -0.4,
    ("revenue", "large"): -0.7,
    ("company", True): 0.3,
    ("x_segment", "enterprise"): 0.7,
    ("x_lead_quality", "a"): 0.9,
    ("x_lead_quality", "d"): -0.8,
    ("x_competitor", "c1"): -0.5,
    ("x_decision_maker", True): 0.6,
    ("x_demo_requested", True): 1.1,
    ("x_newsletter", True): 0.3,
}
LEAD_COLUMNS = (
    "id", "name", "type", "active", "company_id", "team_id", "user_id", "stage_id",
    "partner_id", "priority", "expected_revenue", "prorated_revenue", "probability",
    "color", "message_bounce", "deal_score", "date_open", "date_last_stage_update",
    "date_closed", "create_uid", "create_date", "write_uid", "write_date", "source_id",
    "medium_id", "campaign_id", "country_id", "email_from", "email_normalized",
)  # fmt: skip
PARTNER_COLUMNS = (
    "id", "name", "complete_name", "type", "active", "is_company", "partner_share",
    "commercial_partner_id", "email", "email_normalized", "country_id", "industry_id",
    "color", "message_bounce", "contact_score", "create_uid", "create_date", "write_uid",
    "write_date",
)  # fmt: skip


# ----------------------------------------------------------------------------
# Memory: the growth of this process's resident set during one step
# ----------------------------------------------------------------------------


# ----------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------


def prepare_references(bench):
    env = bench.env
    env["ir.cron"].search([]).write({"active": False})
    model_id = env["ir.model"]._get_id("crm.lead")
    env["ir.model.fields"].create(
        [
            {
                "name": name,
                "field_description": name[2:].replace("_", " ").title(),
                "model_id": model_id,
                "ttype": ttype,
                "state": "manual",
                **(
                    {"selection": repr([(v, v.title()) for v in values])}
                    if ttype == "selection"
                    else {"relation": values}
                    if ttype == "many2one"
                    else {}
                ),
            }
            for name, ttype, values in CUSTOM_FIELDS[: max(0, bench.args.fields - 14)]
        ]
    )

    def named(model, names):
        """Records of ``model`` with these names, created when missing."""
        found = {r.name: r.id for r in env[model].search([("name", "in", names)])}
        created = env[model].create([{"name": n} for n in names if n not in found])
        return {**found, **{record.name: record.id for record in created}}

    bench.refs = {
        "tags": named("crm.tag", CRM_TAGS),
        "sources": named("utm.source", SOURCES),
        "mediums": named("utm.medium", MEDIUMS),
        "campaigns": named("utm.campaign", CAMPAIGNS),
        "teams": named("crm.team", TEAMS),
        "partner_tags": named("res.partner.category", PARTNER_TAGS),
        "countries": {
            c.code: c.id
            for c in env["res.country"].search(
                [("code", "in", ["NL", "BE", "DE", "GB", "FR", "US"])]
            )
        },
        "industries": env["res.partner.industry"].search([], limit=12).ids,
        "won_stage": env["crm.stage"].search([("is_won", "=", True)], limit=1).id,
        "open_stages": env["crm.stage"].search([("is_won", "=", False)]).ids,
        "company": env.company.id,
        "user": env.ref("base.user_admin").id,
    }
    bench.cr.commit()


def customer_rows(rng, refs, first_id, count, now):
    countries = list(refs["countries"].items())
    for partner_id in range(first_id, first_id + count):
        code, country_id = rng.choices(countries, weights=[40, 12, 12, 8, 8, 20])[0]
        company = rng.random() < 0.35
        name = f"Customer {partner_id}"
        domain = rng.choice(FREE_MAIL) if rng.random() < 0.4 else f"c{partner_id}.example.{code}"
        email = f"info@{domain}"
        created = harness.fmt_date(now - timedelta(days=rng.uniform(400, 2000)))
        row = {
            "id": partner_id,
            "name": name,
            "complete_name": name,
            "type": "contact",
            "active": "t",
            "is_company": harness.sql_bool(company),
            "partner_share": "t",
            "commercial_partner_id": partner_id,
            "email": email,
            "email_normalized": email,
            "country_id": country_id,
            "industry_id": rng.choice(refs["industries"]) if rng.random() < 0.7 else None,
            "color": 0,
            "message_bounce": 0,
            "contact_score": 0.0,
            "create_uid": SUPERUSER_ID,
            "create_date": created,
            "write_uid": SUPERUSER_ID,
            "write_date": created,
        }
        yield (
            tuple(row[c] for c in PARTNER_COLUMNS),
            code,
            company,
            rng.sample(list(refs["partner_tags"].values()), rng.choice([0, 0, 1, 2])),
        )


def deal_values(rng, refs, customer, now):
    """One closed opportunity: its values, custom values, tags and outcome."""
    partner_id, code, company = customer
    tags = rng.sample(CRM_TAGS, rng.choice([0, 1, 1, 2]))
    source = rng.choice(SOURCES)
    medium = rng.choice(MEDIUMS)
    campaign = rng.choice(CAMPAIGNS) if rng.random() < 0.5 else None
    team = rng.choices(TEAMS, weights=[2, 5, 3])[0]
    priority = rng.choices(["0", "1", "2", "3"], weights=[40, 30, 20, 10])[0]
    revenue = round(rng.lognormvariate(9.0, 1.1), -2)
    custom = {}
    for name, ttype, values in CUSTOM_FIELDS:
        if ttype == "selection":
            custom[name] = rng.choice(values) if rng.random() < 0.8 else None
        elif ttype == "boolean":
            custom[name] = rng.random() < 0.3
        else:
            custom[name] = rng.choice(refs["industries"]) if rng.random() < 0.5 else None
    conditions = {("tag", t) for t in tags} | {
        ("source", source),
        ("medium", medium),
        ("campaign", campaign),
        ("team", team),
        ("country", code),
        ("priority", priority),
        ("revenue", "large" if revenue >= 50000 else "small"),
        ("company", company),
    }
    conditions |= set(custom.items())
    log_odds = INTERCEPT + sum(EFFECTS.get(condition, 0.0) for condition in conditions)
    won = rng.random() < 1 / (1 + math.exp(-log_odds))
    closed = now - timedelta(seconds=rng.uniform(3600, 365 * 86400))
    return {
        "partner_id": partner_id,
        "country": code,
        "tags": [refs["tags"][t] for t in tags],
        "source_id": refs["sources"][source],
        "medium_id": refs["mediums"][medium],
        "campaign_id": refs["campaigns"][campaign] if campaign else None,
        "team_id": refs["teams"][team],
        "priority": priority,
        "revenue": revenue,
        "won": won,
        "closed": closed,
        "custom": custom,
    }


def load_data(bench, deals, customers):
    """COPY customers, then closed opportunities (won: in the won stage;
    lost: archived with probability 0) and their tags and custom values."""
    cr, rng, refs, now = bench.cr, bench.rng, bench.refs, bench.now
    custom_names = [name for name, _t, _v in CUSTOM_FIELDS[: max(0, bench.args.fields - 14)]]
    with harness.measure_memory(
        bench, f"load {customers:,} customers + {deals:,} closed deals", deals
    ) as step:
        first = harness.next_id(cr, "res_partner")
        people = list(customer_rows(rng, refs, first, customers, now))
        harness.copy_rows(cr, "res_partner", PARTNER_COLUMNS, (p[0] for p in people))
        harness.copy_rows(
            cr,
            "res_partner_res_partner_category_rel",
            ("category_id", "partner_id"),
            ((tag, p[0][0]) for p in people for tag in p[3]),
        )
        harness.reset_sequence(cr, "res_partner")
        first_lead = harness.next_id(cr, "crm_lead")
        for start in range(0, deals, harness.COPY_BATCH):
            batch = [
                deal_values(rng, refs, (p[0][0], p[1], p[2]), now)
                for p in (rng.choice(people) for _ in range(min(harness.COPY_BATCH, deals - start)))
            ]
            harness.copy_rows(cr, "crm_lead", LEAD_COLUMNS + tuple(custom_names), (
                lead_row(refs, first_lead + start + i, deal, custom_names)
                for i, deal in enumerate(batch)
            ))  # fmt: skip
            harness.copy_rows(
                cr,
                "crm_tag_rel",
                ("lead_id", "tag_id"),
                ((first_lead + start + i, t) for i, deal in enumerate(batch) for t in deal["tags"]),
            )
        harness.reset_sequence(cr, "crm_lead")
        cr.execute(
            "ANALYZE res_partner, crm_lead, crm_tag_rel, res_partner_res_partner_category_rel"
        )
        cr.commit()
        bench.env.invalidate_all()
        step.note = f"COPY in batches of {harness.COPY_BATCH:,}"


def lead_row(refs, lead_id, deal, custom_names):
    won = deal["won"]
    closed = harness.fmt_date(deal["closed"])
    opened = harness.fmt_date(deal["closed"] - timedelta(days=30))
    email = f"deal{lead_id}@{'gmail.com' if lead_id % 3 == 0 else 'example.com'}"
    row = {
        "id": lead_id,
        "name": f"Deal {lead_id}",
        "type": "opportunity",
        "active": harness.sql_bool(won),
        "company_id": refs["company"],
        "team_id": deal["team_id"],
        "user_id": refs["user"],
        "stage_id": refs["won_stage"] if won else refs["open_stages"][lead_id % 3],
        "partner_id": deal["partner_id"],
        "priority": deal["priority"],
        "expected_revenue": deal["revenue"],
        "prorated_revenue": deal["revenue"] if won else 0.0,
        "probability": 100.0 if won else 0.0,
        "color": 0,
        "message_bounce": 0,
        "deal_score": 0.0,
        "date_open": opened,
        "date_last_stage_update": closed,
        "date_closed": closed,
        "create_uid": SUPERUSER_ID,
        "create_date": opened,
        "write_uid": SUPERUSER_ID,
        "write_date": closed,
        "source_id": deal["source_id"],
        "medium_id": deal["medium_id"],
        "campaign_id": deal["campaign_id"],
        "country_id": refs["countries"][deal["country"]],
        "email_from": email,
        "email_normalized": email,
    }
    custom = deal["custom"]
    return tuple(row[c] for c in LEAD_COLUMNS) + tuple(
        harness.sql_bool(custom[n]) if isinstance(custom[n], bool) else custom[n]
        for n in custom_names
    )


# ----------------------------------------------------------------------------
# The scoring model and its rules
# ----------------------------------------------------------------------------


def rule_catalogue(refs):
    """(name, domain) of the rules, the way a marketer would write them."""
    tags, sources = refs["tags"], refs["sources"]
    return [
        ("Tag Software", f"[('tag_ids', 'in', [{tags['Software']}])]"),
        ("Tag Consulting", f"[('tag_ids', 'in', [{tags['Consulting']}])]"),
        ("Tag Upsell", f"[('tag_ids', 'in', [{tags['Upsell']}])]"),
        ("Source Referral", f"[('source_id', '=', {sources['Referral']})]"),
        ("Source Cold list", f"[('source_id', '=', {sources['Cold list']})]"),
        ("Medium Email", "[('medium_id.name', '=', 'Email')]"),
        ("Campaign Webinar", "[('campaign_id.name', 'ilike', 'webinar')]"),
        ("Team Enterprise", f"[('team_id', '=', {refs['teams']['Enterprise']})]"),
        ("Netherlands", "[('country_id.code', '=', 'NL')]"),
        ("Germany", "[('country_id.code', '=', 'DE')]"),
        ("High priority", "[('priority', 'in', ['2', '3'])]"),
        ("No priority", "[('priority', '=', '0')]"),
        (
            "Revenue 10k-50k",
            "[('expected_revenue', '>=', 10000), ('expected_revenue', '<', 50000)]",
        ),
        ("Revenue 50k+", "[('expected_revenue', '>=', 50000)]"),
        ("Customer is a company", "[('partner_id.is_company', '=', True)]"),
        (
            "Customer industry",
            f"[('partner_id.industry_id', 'in', {refs['industries'][:3]})]",
        ),
        ("Customer VIP", f"[('partner_id.category_id', 'in', [{refs['partner_tags']['VIP']}])]"),
        ("Free mail", "[('email_from', '=ilike', '%@gmail.com')]"),
        ("Segment enterprise", "[('x_segment', '=', 'enterprise')]"),
        ("Newsletter", "[('x_newsletter', '=', True)]"),
    ]


def create_deal_model(bench):
    catalogue = rule_catalogue(bench.refs)
    if bench.args.fields < 16:
        catalogue = [rule for rule in catalogue if "x_" not in rule[1]]
    rules = [catalogue[i % len(catalogue)] for i in range(bench.args.rules)]
    scoring_model = bench.env["lead.scoring.model"].create(
        {
            "name": "Dealkwaliteit",
            "target": "deal",
            "rule_ids": [
                Command.create(
                    {
                        "name": name if i < len(catalogue) else f"{name} #{i}",
                        "domain": domain,
                        "points": 10,
                        "sequence": i,
                    }
                )
                for i, (name, domain) in enumerate(rules)
            ],
        }
    )
    bench.cr.commit()
    return scoring_model


# ----------------------------------------------------------------------------
# Steps
# ----------------------------------------------------------------------------


def outcome_count(bench, date_from):
    bench.cr.execute(
        SQL(
            "SELECT count(*) FROM crm_lead WHERE type = 'opportunity' AND date_closed >= %s",
            date_from,
        )
    )
    return bench.cr.fetchone()[0]


def lab_analysis(bench, scoring_model, date_from, label):
    """The lab's analysis and discovery, timed apart, as ``action_analyse`` runs them."""
    env = bench.env
    lab = env["lead.scoring.lab"].create(
        {"model_id": scoring_model.id, "date_from": date_from, "date_to": bench.now.date()}
    )
    outcomes = outcome_count(bench, fields.Datetime.to_datetime(date_from))
    with harness.measure_memory(bench, f"analyse {label}", outcomes) as step:
        values = lab._analyse_rules()
        data = json.loads(values["pattern_data"])
        step.note = (
            f"{values['won_count']:,} won, {values['lost_count']:,} lost, "
            f"{len(data['train']) + len(data['test']):,} distinct hit patterns, "
            f"AUC current {values['auc']:.3f}"
        )
    fields_count = len(
        list(env["lead.scoring.lab.candidate"]._candidate_fields(lab._target_records()))
    )
    with harness.measure_memory(
        bench, f"discover {label}, {fields_count} fields", outcomes
    ) as step:
        candidates = lab._discover_candidates(data)
        step.note = f"{len(candidates)} candidates: " + ", ".join(
            f"{c['name']} {c['suggested_points']:+g}" for c in candidates[:6]
        )
    with harness.measure_memory(bench, f"write the lab {label}", outcomes) as step:
        lab.write(
            dict(values, state="analysed", candidate_ids=[Command.create(c) for c in candidates])
        )
        env.flush_all()
        step.note = f"suggested AUC {lab.suggested_auc:.3f}"
    bench.results[label] = {
        "outcomes": outcomes,
        "won": values["won_count"],
        "lost": values["lost_count"],
        "patterns": len(data["train"]) + len(data["test"]),
        "auc": values["auc"],
        "suggested_auc": lab.suggested_auc,
        "fields": fields_count,
        "points": {line.rule_id.name: line.suggested_points for line in lab.line_ids},
        "candidates": [(c["name"], c["suggested_points"]) for c in candidates],
    }
    bench.cr.commit()
    return lab


def naive_analysis(bench, scoring_model, date_from):
    """One ORM record per opportunity: read each, ``filtered_domain`` per rule,
    one row per opportunity in the fit."""
    # Importable once Odoo's configuration has set the addons path.
    from odoo.addons.lead_scoring import lab_math  # noqa: PLC0415

    env = bench.env
    env.invalidate_all()
    rules = scoring_model.rule_ids.sorted(lambda r: (r.sequence, r.id))
    start = fields.Datetime.to_datetime(date_from)
    with harness.measure_memory(bench, "naive: one record per opportunity", 0) as step:
        leads = (
            env["crm.lead"]
            .with_context(active_test=False)
            .search(
                [("type", "=", "opportunity"), ("date_closed", ">=", start)],
                order="date_closed, id",
            )
        )
        outcomes = leads.filtered(
            lambda lead: lead.stage_id.is_won or (not lead.active and lead.probability == 0)
        )
        hits = [set(outcomes.filtered_domain(rule._match_domain()).ids) for rule in rules]
        rows = [
            (
                tuple((i, 1.0) for i, rule_hits in enumerate(hits) if lead.id in rule_hits),
                1 if lead.stage_id.is_won else 0,
                0 if lead.stage_id.is_won else 1,
            )
            for lead in outcomes
        ]
        train = rows[: round(0.7 * len(rows))]
        fit = lab_math.fit_logistic(train, len(rules))
        step.records = len(outcomes)
        step.note = f"{len(train):,} rows fitted, one per opportunity"
    return {
        rule.name: lab_math.scorecard_points(c, 20)
        for rule, c in zip(rules, fit.coefficients, strict=True)
    }


def compare(bench, naive_points, label):
    """The naive run against the lab's analysis of the same outcomes."""
    lab_points = bench.results[label]["points"]
    differing = {n: (p, lab_points[n]) for n, p in naive_points.items() if lab_points[n] != p}
    naive_seconds = next(s.seconds for s in bench.steps if s.name.startswith("naive"))
    lab_seconds = next(s.seconds for s in bench.steps if s.name == f"analyse {label}")
    bench.results["comparison"] = {
        "label": label,
        "naive_seconds": naive_seconds,
        "lab_seconds": lab_seconds,
        "ratio": naive_seconds / lab_seconds if lab_seconds else 0.0,
        "verdict": "OK" if not differing else f"MISMATCH {differing}",
    }


def print_report(bench, machine):
    args = bench.args
    print()
    print(
        f"scoring lab benchmark: {args.deals:,} closed opportunities, {args.customers:,} "
        f"customers, {args.rules} rules, {args.fields} fields, seed {args.seed}"
    )
    print(
        f"machine: {machine['platform']}, {machine['cpu']}, {machine['cpu_count']} CPUs, "
        f"{machine['ram_gb']:.1f} GB RAM; Python {machine['python']}, "
        f"PostgreSQL {machine['postgresql']}, Odoo {machine['odoo']}"
    )
    header = (
        f"{'step':<48} {'outcomes':>9} {'seconds':>8} {'queries':>8} {'SQL s':>7} {'+RSS MB':>8}"
    )
    print()
    print(header)
    print("-" * len(header))
    for step in bench.steps:
        print(
            f"{step.name[:48]:<48} {step.records:>9,} {step.seconds:>8.2f} {step.queries:>8,} "
            f"{step.sql_seconds:>7.2f} {step.rss_growth_mb:>8.1f}"
        )
    print()
    for step in bench.steps:
        if step.note:
            print(f"  {step.name}: {step.note}")
    full = bench.results["all"]
    print()
    print(
        "suggested points (all outcomes): "
        + ", ".join(f"{n} {p:+g}" for n, p in full["points"].items())
    )
    comparison = bench.results["comparison"]
    print(
        f"naive/lab on {bench.results[comparison['label']]['outcomes']:,} outcomes: "
        f"{comparison['naive_seconds']:.2f} s / {comparison['lab_seconds']:.2f} s = "
        f"{comparison['ratio']:.1f}x; points {comparison['verdict']}"
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deals", type=int, default=200_000, help="closed opportunities")
    parser.add_argument("--customers", type=int, default=40_000, help="their customers")
    parser.add_argument("--rules", type=int, default=20, help="rules of the deal model (≤ 100)")
    parser.add_argument(
        "--fields", type=int, default=30, help="candidate fields: 14 of crm.lead + custom ones"
    )
    parser.add_argument(
        "--naive-size", type=int, help="outcomes of the naive run (default: all of them)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--json", nargs="?", const="", default=None, metavar="PATH")
    parser.add_argument("--log-level", default="warn")
    parser.add_argument("--log-handler", action="append", default=[])
    args = parser.parse_args(argv)
    args.fields = max(14, min(args.fields, 14 + len(CUSTOM_FIELDS)))
    args.naive_size = max(100, min(args.naive_size or args.deals, args.deals))
    return args


def run(bench):
    args = bench.args
    print(f"Creating database {DB_NAME} and installing lead_scoring ...", flush=True)
    bench.databases.append(DB_NAME)
    harness.drop_database(DB_NAME)
    harness.install_addon(DB_NAME, args.log_level)
    bench.db, bench.rng = DB_NAME, random.Random(args.seed)
    harness.open_registry(bench)
    try:
        prepare_references(bench)
        # The registry must know the custom fields before data is loaded.
        bench.cr.close()
        Registry.delete(DB_NAME)
        harness.open_registry(bench)
        load_data(bench, args.deals, args.customers)
        scoring_model = create_deal_model(bench)
        since = (bench.now - timedelta(days=366)).date()
        lab_analysis(bench, scoring_model, since, "all")
        label = "all"
        if args.naive_size < args.deals:
            # The days of the newest K outcomes: the naive run's, and the lab's on the same.
            bench.cr.execute(
                SQL(
                    "SELECT date_closed::date FROM crm_lead WHERE type = 'opportunity'"
                    " ORDER BY date_closed DESC OFFSET %s LIMIT 1",
                    args.naive_size - 1,
                )
            )
            since, label = bench.cr.fetchone()[0], "newest"
            lab_analysis(bench, scoring_model, since, label)
        compare(bench, naive_analysis(bench, scoring_model, since), label)
        machine = harness.machine_info(bench)
    finally:
        bench.cr.rollback()
        bench.cr.close()
        Registry.delete(DB_NAME)
    print_report(bench, machine)
    if args.json is not None:
        path = (
            Path(args.json)
            if args.json
            else harness.RESULTS_DIR
            / (f"bench_lab-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json")
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps(
                {
                    "arguments": {k: v for k, v in vars(args).items() if k != "json"},
                    "machine": machine,
                    "steps": [asdict(step) for step in bench.steps],
                    **bench.results,
                },
                indent=2,
                default=str,
            )
        )
        print(f"JSON written to {path}")


def main(argv=None):
    args = parse_args(argv)
    bench = harness.Bench(args)
    harness.configure_odoo(args)
    try:
        run(bench)
    finally:
        harness.release_databases(bench)


if __name__ == "__main__":
    main()
