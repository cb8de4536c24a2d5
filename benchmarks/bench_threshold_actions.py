#!/usr/bin/env python3
"""Benchmark of the thresholds that act, on a throwaway Odoo 18 database.

Creates a database with ``lead_scoring_mass_mailing`` (without demo), N
contacts with an e-mail (half of them with a salesperson) scored above a
threshold, then times the scheduled run (``_cron_recompute_scores``) that
fires the threshold for all N at once:

- ``add_to_list``: N crossings subscribe N contacts to a mailing list
  (target: 10,000 in at most 5 s);
- ``schedule_activity``: N crossings schedule N activities whose note lists
  the score's breakdown (target: 10,000 in at most 20 s).

The naive baseline, measured in the same run on K other contacts, does the
same work with one ORM call per record (what a server action looping over
its records does): look up and create the mailing contact and its
subscription one by one; ``activity_schedule`` with the breakdown read per
record. The ratio compares the time per record.

Usage: python3 benchmarks/bench_threshold_actions.py [--crossings N]
       [--naive-size K] [--keep-db] [--log-level L]
"""

import argparse
import time
from datetime import timedelta

import startup

if __name__ == "__main__":
    startup.prepare_process()  # before Odoo loads

import harness

import odoo
from odoo import SUPERUSER_ID, api, fields
from odoo.fields import Command
from odoo.modules.registry import Registry

DB_NAME = "lead_scoring_bench_threshold_actions"
ADDON = "lead_scoring_mass_mailing"
TARGETS = {"add_to_list": 5.0, "schedule_activity": 20.0}
QUIET = {"tracking_disable": True, "mail_create_nolog": True, "mail_create_nosubscribe": True}


class Timer:
    """Wall time and SQL statements of a step."""

    def __init__(self, cr, name, records):
        self.cr, self.name, self.records = cr, name, records
        self.seconds = self.queries = 0

    def __enter__(self):
        self.queries = self.cr.sql_log_count
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        self.queries = self.cr.sql_log_count - self.queries
        print(
            f"  {self.name}: {self.records:,} records in {self.seconds:.2f} s, "
            f"{self.queries:,} queries",
            flush=True,
        )

    @property
    def per_record_ms(self):
        return self.seconds / max(self.records, 1) * 1000


def create_data(env, crossings, naive):
    """Contacts with an e-mail (every other one with a salesperson), their
    ledger lines and scores; nothing fires yet (no threshold)."""
    env["ir.cron"].search([]).write({"active": False})
    seller = env["res.users"].create(
        {
            "name": "Verkoper",
            "login": "bench_seller",
            "groups_id": [Command.set(env.ref("sales_team.group_sale_salesman").ids)],
        }
    )
    partners = (
        env["res.partner"]
        .with_context(**QUIET)
        .create(
            [
                {
                    "name": f"Contact {index}",
                    "email": f"contact.{index}@example.nl",
                    "user_id": seller.id if index % 2 else False,
                }
                for index in range(crossings + naive)
            ]
        )
    )
    # The naive baseline's contacts are scored by a model of their own,
    # which has no threshold: the engine's run fires for exactly N.
    scoring_model, naive_model = env["lead.scoring.model"].create(
        [
            {"name": "Interesse productgroep", "target": "contact"},
            {"name": "Interesse productgroep (naief)", "target": "contact"},
        ]
    )
    Point = env["lead.scoring.point"]
    for model, group in (
        (scoring_model, partners[:crossings]),
        (naive_model, partners[crossings:]),
    ):
        for reason, points in (("Productpagina bekeken", 10), ("Brochure gedownload", 10)):
            Point._add_points(model, [(partner.id, points, reason) for partner in group], "manual")
    env.cr.commit()
    return scoring_model, naive_model, partners[:crossings], partners[crossings:]


def fire(env, scoring_model, name, values, crossings):
    """A threshold crossed by every scored contact, fired by a scheduled run."""
    threshold = env["lead.scoring.threshold"].create(
        {"model_id": scoring_model.id, "name": name, "score": 15, **values}
    )
    env.cr.commit()
    env.invalidate_all()
    with Timer(env.cr, f"engine: run firing {values['action']}", crossings) as timer:
        env["lead.scoring.model"]._cron_recompute_scores()
        env.flush_all()
    env.cr.commit()
    threshold.active = False
    env.cr.commit()
    return threshold, timer


def naive_subscribe(env, partners, mailing_list):
    """One ORM call (or two) per contact, as a server action looping."""
    Contact = env["mailing.contact"].with_context(**QUIET)
    Subscription = env["mailing.subscription"]
    for partner in partners:
        if env["mail.blacklist"].search_count([("email", "=", partner.email_normalized)]):
            continue
        contact = Contact.search([("email_normalized", "=", partner.email_normalized)], limit=1)
        if not contact:
            Contact.create(
                {
                    "name": partner.name,
                    "email": partner.email,
                    "subscription_ids": [Command.create({"list_id": mailing_list.id})],
                }
            )
        elif not Subscription.search_count(
            [("contact_id", "=", contact.id), ("list_id", "=", mailing_list.id)]
        ):
            Subscription.create({"contact_id": contact.id, "list_id": mailing_list.id})
    env.flush_all()


def naive_activities(env, partners, scoring_model, activity_type, fallback):
    """activity_schedule per record, its score and breakdown read per record."""
    Point = env["lead.scoring.point"]
    Score = env["lead.scoring.score"]
    deadline = fields.Date.today() + timedelta(days=2)
    for partner in partners.with_context(mail_activity_quick_update=True):
        score = Score.search(
            [("model_id", "=", scoring_model.id), ("partner_id", "=", partner.id)]
        ).score
        lines = Point.search(
            [
                ("model_id", "=", scoring_model.id),
                ("partner_id", "=", partner.id),
                ("is_live", "=", True),
            ],
            limit=50,
        )
        note = f"<p>Score {score:g}</p><ul>" + "".join(
            f"<li>{line.points:+g} {line.reason}</li>" for line in lines
        )
        partner.activity_schedule(
            activity_type_id=activity_type.id,
            summary="Bellen",
            note=note + "</ul>",
            date_deadline=deadline,
            user_id=(partner.user_id or fallback).id,
        )
    env.flush_all()


def run(args):
    print(f"Creating database {DB_NAME} and installing {ADDON} ...", flush=True)
    harness.drop_database(DB_NAME)
    harness.install_addon(DB_NAME, args.log_level, ADDON)
    registry = Registry(DB_NAME)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        print(f"Loading {args.crossings + args.naive_size:,} scored contacts ...", flush=True)
        scoring_model, naive_model, partners, naive_partners = create_data(
            env, args.crossings, args.naive_size
        )
        results = [
            measure_add_to_list(env, scoring_model, partners, naive_partners),
            measure_schedule_activity(env, scoring_model, naive_model, partners, naive_partners),
        ]
    registry.delete(DB_NAME)
    print_results(args, results)


def measure_add_to_list(env, scoring_model, partners, naive_partners):
    """The add_to_list action on every crossing, then the naive way."""
    lists = env["mailing.list"].create([{"name": "Productmailing"}, {"name": "Naief"}])
    _threshold, engine = fire(
        env,
        scoring_model,
        "Productmailing",
        {"action": "add_to_list", "mailing_list_id": lists[0].id},
        len(partners),
    )
    subscribed = env["mailing.subscription"].search_count([("list_id", "=", lists[0].id)])
    with Timer(env.cr, "naive: one ORM call per contact", len(naive_partners)) as naive:
        naive_subscribe(env, naive_partners, lists[1])
    env.cr.commit()
    return ("add_to_list", engine, naive, subscribed == len(partners), subscribed)


def measure_schedule_activity(env, scoring_model, naive_model, partners, naive_partners):
    """The schedule_activity action on every crossing, then the naive way."""
    call = env.ref("mail.mail_activity_data_call")
    threshold, engine = fire(
        env,
        scoring_model,
        "Belafspraak",
        {"action": "schedule_activity", "activity_type_id": call.id, "activity_days": 2},
        len(partners),
    )
    scheduled = env["mail.activity"].search_count(
        [("lead_scoring_threshold_id", "=", threshold.id)]
    )
    with Timer(env.cr, "naive: activity_schedule per record", len(naive_partners)) as naive:
        naive_activities(env, naive_partners, naive_model, call, env.user)
    env.cr.commit()
    return ("schedule_activity", engine, naive, scheduled == len(partners), scheduled)


def print_results(args, results):
    print()
    print(f"Thresholds that act: {args.crossings:,} crossings in one run")
    header = (
        f"{'action':<18} {'done':>7} {'seconds':>8} {'queries':>8} {'ms/rec':>7} "
        f"{'naive ms/rec':>12} {'ratio':>6}  target"
    )
    print(header)
    print("-" * len(header))
    for action, engine, naive, ok, done in results:
        target = TARGETS[action] * args.crossings / 10000
        verdict = "met" if engine.seconds <= target else "NOT met"
        print(
            f"{action:<18} {done:>7,} {engine.seconds:>8.2f} {engine.queries:>8,} "
            f"{engine.per_record_ms:>7.2f} {naive.per_record_ms:>12.2f} "
            f"{naive.per_record_ms / engine.per_record_ms:>5.1f}x  "
            f"≤ {target:.1f} s ({TARGETS[action]:.0f} s per 10,000): {verdict}"
            + ("" if ok else "  WRONG COUNT")
        )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--crossings", type=int, default=10000, help="records that cross")
    parser.add_argument(
        "--naive-size", type=int, default=1000, help="records of the naive baseline"
    )
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--log-level", default="warn")
    args = parser.parse_args(argv)
    if args.crossings < 1 or args.naive_size < 1:
        parser.error("--crossings and --naive-size must be at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    odoo.tools.config.parse_config(
        [
            *("--addons-path", harness.addons_path(), "--log-level", args.log_level),
            *("--max-cron-threads=0", "--without-demo=all"),
        ],
        setup_logging=True,
    )
    try:
        run(args)
    finally:
        if args.keep_db:
            print(f"Database {DB_NAME} kept.")
        else:
            harness.drop_database(DB_NAME)


if __name__ == "__main__":
    main()
