"""The events API: outside systems post behaviour events that score records.

``POST /lead_scoring/v1/events`` authenticates with an Odoo API key
(``Authorization: Bearer <key>``) and answers JSON only, errors included,
which is why it checks the key itself (``auth="none"``) rather than with
Odoo's ``auth="bearer"`` (whose refusals are HTML pages).
The OpenAPI description is ``GET /lead_scoring/v1/openapi.json``.
"""

import logging
import re

from odoo import http
from odoo.http import request
from odoo.tools import file_open

from ..api.batch import batch_events
from ..api.payload import BodyError, check_size, parse_body

_logger = logging.getLogger(__name__)

BEARER = re.compile(r"bearer\s+(\S+)", re.IGNORECASE)
API_GROUPS = ("lead_scoring.group_lead_scoring_api", "lead_scoring.group_lead_scoring_manager")


class LeadScoringEvents(http.Controller):
    @http.route(
        "/lead_scoring/v1/events",
        type="http",
        auth="none",
        methods=["POST"],
        csrf=False,
        save_session=False,
        readonly=False,
    )
    def post_events(self, **_params):
        user, refusal = _authenticate()
        if refusal:
            return refusal
        env = request.env(context=dict(request.env.context, lang=user.lang or "en_US"))
        events, refusal = _read_events(env)
        if refusal:
            return refusal
        # The group is checked: from here the endpoint does only its own work
        # (find the records the events name, write ledger lines through the
        # engine, create contacts when asked) as superuser, so that an
        # integration user needs no right on contacts, deals or the ledger.
        # The API user stays env.uid: idempotency keys and lines are its own.
        results = env["lead.scoring.api.event"].sudo()._receive(events)
        return request.make_json_response({"results": results})

    @http.route(
        "/lead_scoring/v1/openapi.json",
        type="http",
        auth="none",
        methods=["GET"],
        save_session=False,
        cors="*",
    )
    def openapi(self, **_params):
        with file_open("lead_scoring/static/openapi.json", "rb") as document:
            body = document.read()
        return request.make_response(body, headers=[("Content-Type", "application/json")])


def _error(status, message, headers=None):
    return request.make_json_response({"error": message}, headers=headers, status=status)


def _authenticate():
    """``(user, None)`` for a valid API key of an API user or scoring
    manager, else ``(None, error response)``: 401 without a valid key, 403
    for a user outside both groups."""
    challenge = [("WWW-Authenticate", 'Bearer realm="lead_scoring"')]
    match = BEARER.fullmatch(request.httprequest.headers.get("Authorization", "").strip())
    if not match:
        return None, _error(
            401, "Missing API key: send the header Authorization: Bearer <key>.", challenge
        )
    uid = request.env["res.users.apikeys"]._check_credentials(scope="rpc", key=match[1])
    if not uid:
        _logger.info("Lead scoring API: invalid key from %s", request.httprequest.remote_addr)
        return None, _error(401, "Invalid or expired API key.", challenge)
    request.update_env(user=uid)
    user = request.env.user
    if not any(user.has_group(group) for group in API_GROUPS):
        return None, _error(
            403,
            request.env(context={"lang": user.lang})._(
                'User %(login)s may not post events: give it the group "Lead Scoring: API".',
                login=user.login,
            ),
        )
    return user, None


def _read_events(env):
    """``(events, None)`` from the JSON body, else ``(None, 400 response)``."""
    httprequest = request.httprequest
    try:
        # A body announced larger than the limit is refused before it is read.
        check_size(httprequest.content_length)
        body = parse_body(httprequest.get_data())
    except BodyError as error:
        return None, _error(400, _body_error_message(env, error))
    events, refusal = batch_events(body)
    if refusal:
        return None, _error(400, _batch_error_message(env, refusal))
    return events, None


def _batch_error_message(env, refusal):
    """The message of a refusal of ``api.batch.batch_events``."""
    if refusal.code == "batch_size":
        return env._("Send 1 to %(max)s events per request, not %(count)s.", **refusal.params)
    return env._('The body must be an object with an "events" list.')


def _body_error_message(env, error):
    if error.reason == "too_large":
        return env._(
            "The body is larger than %(max)s bytes: send fewer events per request.",
            max=error.detail,
        )
    if error.reason == "encoding":
        return env._("The body must be JSON encoded in UTF-8.")
    if error.reason == "too_deep":
        return env._(
            "The body nests arrays or objects more than %(max)s levels deep.", max=error.detail
        )
    return env._("The body is not valid JSON: %(error)s", error=error.detail)
