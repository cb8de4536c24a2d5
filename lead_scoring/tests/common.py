import inspect
import threading
import time
from contextlib import ExitStack, contextmanager
from typing import NamedTuple
from unittest.mock import patch

from psycopg2 import OperationalError

from odoo import SUPERUSER_ID, api
from odoo.service.model import PG_CONCURRENCY_ERRORS_TO_RETRY
from odoo.tests import BaseCase, HttpCase, TransactionCase, get_db_name, new_test_user

from odoo.addons.base.tests.common import DISABLED_MAIL_CONTEXT


class RuleStatement(NamedTuple):
    """One rule diff statement: its rules, the records it evaluated (None:
    every record) and its id range (None: every id)."""

    rules: object
    changed_ids: list | None
    id_range: tuple | None

    @property
    def is_safety_net(self):
        return self.changed_ids is None and self.id_range is not None


@contextmanager
def watch_rule_statements(env):
    """Collect the rule diff statements sent in the block (``RuleStatement``)."""
    rule_class = type(env["lead.scoring.rule"])
    signature = inspect.signature(rule_class._diff_sql)
    statements = []
    with patch.object(
        rule_class, "_diff_sql", autospec=True, side_effect=rule_class._diff_sql
    ) as diff_sql:
        yield statements
    for call in diff_sql.call_args_list:
        arguments = signature.bind(*call.args, **call.kwargs).arguments
        statements.append(
            RuleStatement(
                arguments["self"], arguments.get("changed_ids"), arguments.get("id_range")
            )
        )


class LeadScoringFixtures:
    """Shared fixtures: users of each role, a few partners, and helpers."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, **DISABLED_MAIL_CONTEXT))
        cls.company = cls.env.company
        cls.manager = new_test_user(
            cls.env,
            login="ls_manager",
            groups="sales_team.group_sale_manager",
            name="Marketing Manager",
        )
        cls.salesman = new_test_user(
            cls.env,
            login="ls_salesman",
            groups="sales_team.group_sale_salesman",
            name="Sales Rep",
        )
        cls.portal = new_test_user(cls.env, login="ls_portal", groups="base.group_portal")
        cls.nl = cls.env.ref("base.nl")
        cls.be = cls.env.ref("base.be")
        cls.us = cls.env.ref("base.us")
        Partner = cls.env["res.partner"]
        cls.anna = Partner.create(
            {"name": "Anna", "email": "anna@example.nl", "country_id": cls.nl.id}
        )
        cls.bram = Partner.create(
            {"name": "Bram", "email": "bram@example.be", "country_id": cls.be.id}
        )
        cls.carl = Partner.create(
            {"name": "Carl", "email": "carl@example.com", "country_id": cls.us.id}
        )
        cls.ScoringModel = cls.env["lead.scoring.model"]
        cls.Point = cls.env["lead.scoring.point"]
        cls.Score = cls.env["lead.scoring.score"]

    @classmethod
    def create_model(cls, name="Profiel", target="contact", rules=(), **values):
        """A scoring model with ``rules`` given as (name, domain, points[, extra values])."""
        return cls.ScoringModel.create(
            {
                "name": name,
                "target": target,
                "rule_ids": [
                    (
                        0,
                        0,
                        {
                            "name": rule[0],
                            "domain": rule[1],
                            "points": rule[2],
                            **(rule[3] if len(rule) > 3 else {}),
                        },
                    )
                    for rule in rules
                ],
                **values,
            }
        )

    def recompute(self):
        self.ScoringModel._cron_recompute_scores()

    def score_of(self, scoring_model, record):
        column = scoring_model._target_column()
        score = self.Score.search([("model_id", "=", scoring_model.id), (column, "=", record.id)])
        return score.score if score else 0.0

    def lines_of(self, scoring_model, record, **filters):
        column = scoring_model._target_column()
        domain = [("model_id", "=", scoring_model.id), (column, "=", record.id)]
        domain += [(name, "=", value) for name, value in filters.items()]
        return self.Point.search(domain, order="id")


class LeadScoringCase(LeadScoringFixtures, TransactionCase):
    pass


class LeadScoringHttpCase(LeadScoringFixtures, HttpCase):
    pass


class HostileRequestChecks:
    """What tests of routes under hostile input need: the ledger's size (a
    refused request adds no line), and Odoo's behaviour without the addon:
    ``bypassed()`` reduces each of ``OVERRIDES`` ((class, method name) pairs,
    the addon's overrides on the route's path) to a plain ``super()`` call."""

    OVERRIDES = ()

    def ledger_size(self):
        self.env.flush_all()
        self.env.cr.execute("SELECT count(*) FROM lead_scoring_point")
        return self.env.cr.fetchone()[0]

    @contextmanager
    def bypassed(self):
        def passthrough(cls, name):
            def method(self, *args, **kwargs):
                return getattr(super(cls, self), name)(*args, **kwargs)

            return method

        with ExitStack() as stack:
            for cls, name in self.OVERRIDES:
                stack.enter_context(patch.object(cls, name, passthrough(cls, name)))
            yield


class CommittedCursorCase(BaseCase):
    """Separate cursors on the real database: what two workers see and do.
    The data a test commits (other cursors must see it) is its to remove."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = api.Registry(get_db_name())

    def in_thread(self, work, retry=True):
        """Run ``work(env)`` in a new cursor in a thread and commit it; with
        ``retry``, on a serialization failure roll back and retry, as Odoo
        does for requests and crons (``odoo.service.model.retrying``, which
        cannot be used here: it looks the registry up under a lock the test
        runner holds).

        :return: ``(thread, errors)``: the started thread, and the list the
            exception it ended with is appended to
        """
        errors = []

        def target():
            try:
                with self.registry.cursor() as cr:
                    cr.transaction = api.Transaction(self.registry)
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    for _attempt in range(5 if retry else 1):
                        try:
                            work(env)
                            env.flush_all()
                            break
                        except OperationalError as error:
                            if not retry or error.pgcode not in PG_CONCURRENCY_ERRORS_TO_RETRY:
                                raise
                            cr.rollback()
                            env.invalidate_all()
                            time.sleep(0.1)
            except Exception as error:  # noqa: BLE001 -- reported by the test
                errors.append(error)

        thread = threading.Thread(target=target)
        thread.start()
        return thread, errors
