"""Demo data made by code: a year of won and lost opportunities for the
scoring lab and the conversion report, the same on every install (seeded),
with a ledger as if the addon had been scoring them while they were open.

Called from ``demo/lead_scoring_segment_demo.xml`` through
``crm.lead._lead_scoring_demo_closed_opportunities``, once every demo
scoring model exists.
"""

import math
import random
from datetime import timedelta

from odoo import fields
from odoo.tools import SQL

TAGS = ["Product", "Software", "Services", "Information", "Design", "Training", "Consulting"]
SOURCES = [
    ("Search engine", "search_engine"),
    ("Newsletter", "newsletter"),
    ("Facebook", "facebook"),
    ("LinkedIn", "linkedin"),
    ("Lead Recall", "mailing"),
]
# How the demo's outcomes are drawn: log-odds of winning, by what a deal has.
# The demo's rules get it partly wrong (revenue above 10,000 gets +30 points
# but loses a little), and know nothing of the tags, sources and team yet.
BASE_LOG_ODDS = -1.2
LOG_ODDS = {
    "dutch customer": 0.5,
    "high priority": 1.2,
    "revenue above 10,000": -0.3,
    "Consulting": 1.0,
    "Training": -0.6,
    "Search engine": 0.7,
    "Facebook": -0.8,
    "Pre-Sales": 0.4,
}


def closed_opportunities(env, count=200, seed=13):
    """Create ``count`` opportunities closed over the last year for 100 new
    customers (so that contact models have outcomes too), scored while
    open, then won or lost as ``LOG_ODDS`` has it."""
    rng = random.Random(seed)  # noqa: S311 -- demo data, not secrets
    references = _references(env)
    partners = customers(env, rng, 100)
    now = fields.Datetime.now()
    planned, values = [], []
    for i in range(count):
        outcome, deal_values = _plan_deal(rng, i, references, partners[i % len(partners)], now)
        planned.append(outcome)
        values.append(deal_values)
    leads = env["crm.lead"].create(values)
    scoring_models = env["lead.scoring.model"]
    scoring_models._cron_recompute_scores()
    _date_ledger_while_open(env, leads, planned)
    _close(env, leads, planned)
    # The lost ones left their rules at the first hourly run after they
    # closed, as real time would have it: their points were theirs while
    # they were open and count in their score at closing.
    scoring_models._cron_recompute_scores()
    _close_rule_lines_after_closing(env, leads)


def customers(env, rng, count):
    """``count`` customers in the markets of the demo models."""
    countries = {code: env.ref(f"base.{code.lower()}") for code in ("NL", "BE", "DE", "FR", "US")}
    words = ["Noord", "Delta", "Polder", "Tulp", "Molen", "Haven", "Duin", "Brug", "Dijk"]
    kinds = ["Techniek", "Bouw", "Logistiek", "Installatie", "Media", "Zorg", "Energie"]
    values = []
    for i in range(count):
        code = rng.choices(list(countries), weights=[45, 20, 15, 10, 10])[0]
        company = rng.random() < 0.6
        name = (
            f"{rng.choice(words)} {rng.choice(kinds)} {i + 1:03d}"
            if company
            else f"Klant {i + 1:03d}"
        )
        values.append(
            {
                "name": name,
                "is_company": company,
                "country_id": countries[code].id,
                "email": f"info{i + 1:03d}@klant.example.{code.lower()}",
            }
        )
    return env["res.partner"].create(values)


def _references(env):
    ref = env.ref
    return {
        "tags": {name: ref(f"sales_team.categ_oppor{i}") for i, name in enumerate(TAGS, start=1)},
        "sources": {name: ref(f"utm.utm_source_{key}") for name, key in SOURCES},
        "mediums": [ref(f"utm.utm_medium_{key}") for key in ("website", "email", "phone")],
        "teams": {
            "Sales": ref("sales_team.team_sales_department"),
            "Pre-Sales": ref("sales_team.crm_team_1"),
        },
        "stages": [ref(f"crm.stage_lead{i}") for i in (1, 2, 3)],
    }


def _plan_deal(rng, i, references, partner, now):
    """``((won, opened, closed), values)`` of the i-th demo deal."""
    deal_tags = rng.sample(sorted(references["tags"]), rng.choice([1, 1, 2]))
    source = rng.choice(sorted(references["sources"]))
    team = rng.choices(["Sales", "Pre-Sales"], weights=[2, 1])[0]
    priority = rng.choices(["0", "1", "2", "3"], weights=[3, 4, 2, 1])[0]
    revenue = round(rng.lognormvariate(9.0, 0.8), -2)
    traits = {
        "dutch customer": partner.country_id.code == "NL",
        "high priority": priority in ("2", "3"),
        "revenue above 10,000": revenue >= 10000,
        "Consulting": "Consulting" in deal_tags,
        "Training": "Training" in deal_tags,
        "Search engine": source == "Search engine",
        "Facebook": source == "Facebook",
        "Pre-Sales": team == "Pre-Sales",
    }
    log_odds = BASE_LOG_ODDS + sum(LOG_ODDS[trait] for trait, has in traits.items() if has)
    won = rng.random() < 1 / (1 + math.exp(-log_odds))
    closed = now - timedelta(days=rng.uniform(2, 360))
    opened = closed - timedelta(days=rng.uniform(10, 60))
    values = {
        "name": f"{rng.choice(['Offerte', 'Project', 'Licenties', 'Onderhoud'])} {i + 1:03d}",
        "type": "opportunity",
        "partner_id": partner.id,
        "tag_ids": [fields.Command.set([references["tags"][name].id for name in deal_tags])],
        "source_id": references["sources"][source].id,
        "medium_id": rng.choice(references["mediums"]).id,
        "team_id": references["teams"][team].id,
        "priority": priority,
        "expected_revenue": revenue,
        "stage_id": rng.choice(references["stages"]).id,
    }
    return (won, opened, closed), values


def _date_ledger_while_open(env, leads, planned):
    """Date the deals' lines when they opened, the customers' lines the day
    before their first deal opened: scored while open, before closing."""
    env.flush_all()  # the raw updates must come last
    env.cr.execute(
        SQL(
            """
            UPDATE lead_scoring_point p SET date = opened.date
              FROM unnest(%s::int[], %s::timestamp[]) AS opened(lead_id, date)
             WHERE p.lead_id = opened.lead_id
            """,
            leads.ids,
            [opened for _won, opened, _closed in planned],
        )
    )
    first_opened = {}
    for lead, (_won, opened, _closed) in zip(leads, planned, strict=True):
        partner_id = lead.partner_id.id
        first_opened[partner_id] = min(opened, first_opened.get(partner_id, opened))
    env.cr.execute(
        SQL(
            """
            UPDATE lead_scoring_point p SET date = known.date - interval '1 day'
              FROM unnest(%s::int[], %s::timestamp[]) AS known(partner_id, date)
             WHERE p.partner_id = known.partner_id
            """,
            list(first_opened),
            list(first_opened.values()),
        )
    )


def _close(env, leads, planned):
    """Win or lose each deal as planned, closed on its planned date."""
    won = leads.browse([lead.id for lead, plan in zip(leads, planned, strict=True) if plan[0]])
    won.write({"stage_id": env.ref("crm.stage_lead4").id})
    (leads - won).action_set_lost(lost_reason_id=env.ref("crm.lost_reason_1").id)
    env.flush_all()
    env.cr.execute(
        SQL(
            """
            UPDATE crm_lead l
               SET date_closed = closing.date, date_last_stage_update = closing.date,
                   date_open = closing.opened
              FROM unnest(%s::int[], %s::timestamp[], %s::timestamp[])
                   AS closing(lead_id, date, opened)
             WHERE l.id = closing.lead_id
            """,
            leads.ids,
            [closed for _won, _opened, closed in planned],
            [opened for _won, opened, _closed in planned],
        )
    )
    leads.invalidate_model(["date_closed", "date_last_stage_update", "date_open"])


def _close_rule_lines_after_closing(env, leads):
    env.flush_all()
    env.cr.execute(
        SQL(
            """
            UPDATE lead_scoring_point p
               SET closed_date = date_trunc('hour', l.date_closed) + interval '1 hour'
              FROM crm_lead l
             WHERE p.lead_id = l.id AND l.id = ANY(%s) AND p.closed_date IS NOT NULL
            """,
            leads.ids,
        )
    )
    env["lead.scoring.point"].invalidate_model(["date", "closed_date"])
