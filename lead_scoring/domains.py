"""Domains that marketers write (rules, segments, grades): evaluated as data
with Odoo's safe evaluation, never as code, and checked when saved."""

import psycopg2
from dateutil.relativedelta import relativedelta

from odoo.fields import Date
from odoo.osv import expression
from odoo.tools import SQL
from odoo.tools.safe_eval import datetime, safe_eval, time

# What a domain that stopped fitting the data raises (unknown field, wrong type).
# Anything else (a cancelled statement, a serialization failure) is not the
# rule's fault and must stop the run rather than leave the rule's lines stale.
DOMAIN_ERRORS = (ValueError, KeyError, TypeError, psycopg2.ProgrammingError, psycopg2.DataError)


def eval_context(env):
    """What a domain may use: the user, dates and relative dates."""
    return {
        "uid": env.uid,
        "user": env.user,
        "datetime": datetime,
        "relativedelta": relativedelta,
        "time": time,
        "context_today": lambda: Date.context_today(env.user),
    }


def parse_domain(env, text):
    """The domain of ``text`` as a normalized list of conditions."""
    domain = safe_eval(text or "[]", eval_context(env))
    if not isinstance(domain, list | tuple):
        raise ValueError(env._("a domain must be a list of conditions"))
    return expression.normalize_domain(list(domain))


def is_empty(text):
    return (text or "[]").strip() in ("[]", "")


def domain_error(records, text):
    """Why ``text`` is not a domain ``records`` can run (None when it is)."""
    env = records.env
    try:
        query = records._search(parse_domain(env, text))
        # Planning the query (LIMIT 0 returns nothing) catches type errors
        # that only PostgreSQL sees, e.g. a text compared with a number.
        with env.cr.savepoint(flush=False):
            env.cr.execute(SQL("%s LIMIT 0", query.select()))
    except Exception as error:  # noqa: BLE001 -- any reason is reported to the user
        return error
    return None
