"""Odoo's public mailing routes under hostile parameters, with every
Automations-tab line of this addon active: the open pixel, tracked links,
the unsubscribe pages and the subscription JSON routes answer as Odoo does
without this addon (never a 500 of ours), a refused request scores nothing,
a valid one still scores."""

import json
import re
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.lead_scoring.tests.common import HostileRequestChecks

from ..controllers.main import LeadScoringMassMailController
from ..models.link_tracker_click import LinkTrackerClick
from ..models.mailing_subscription import MailingSubscription
from ..models.mailing_trace import MailingTrace
from .common import MailingScoringCommon

# Any code point: NUL, control characters, lone surrogates, '/', '?', '%'.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=16)
HOSTILE_TEXT = st.sampled_from(
    [
        "\x00",
        "a\x00b",
        "\ud800",
        "x\udfffy",
        "\x07\x08\x1b[31m",
        "\r\nSet-Cookie: x=1",
        "%00",
        "%ED%A0%80",
        "' OR 1=1 --",
        "<script>alert(1)</script>",
        "Zoë 🚀",
        " ",
        "x" * 10_000,
    ]
)
HOSTILE_IDS = st.sampled_from(
    [
        *(2**63, 2**63 - 1, 2**31, 99999999999, -1, 0),
        *("abc", "1.5", "1e3", "0x10", "١٢", "²", "+1", " 7"),
    ]
)
# Longest hostile path: Odoo's HTTP server drops a request line over 64 KiB
# without an answer, before any routing (an answer of no addon).
LONG_URL = 60_000
REFUSED = "refused"  # any 4xx
# Hypothesis settings shared by the property tests: reproducible and quick.
PROPERTY = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Our overrides on the routes' path, bypassed to get Odoo's own answer.
OVERRIDES = [
    (MailingTrace, "set_opened"),
    (MailingTrace, "set_replied"),
    (MailingTrace, "set_bounced"),
    (LinkTrackerClick, "add_click"),
    (MailingSubscription, "write"),
    (LeadScoringMassMailController, "_mailing_unsubscribe_from_list"),
    (LeadScoringMassMailController, "_mailing_unsubscribe_from_document"),
]


def enc(value):
    """``value`` percent-encoded for a URL, lone surrogates as their (invalid)
    UTF-8 bytes (%ED%A0%80), nothing left unescaped."""
    return quote(str(value).encode("utf-8", "surrogatepass"), safe="")


def is_id(value, record_id):
    """Whether Odoo's ``<int:...>`` converter reads ``value`` as ``record_id``
    (signed, any Unicode decimal digits)."""
    return bool(re.fullmatch(r"-?\d+", str(value))) and int(str(value)) == record_id


def query(**params):
    return "&".join(f"{name}={enc(value)}" for name, value in params.items())


@tagged("post_install", "-at_install")
class TestHostileRoutes(HostileRequestChecks, MailingScoringCommon, HttpCase):
    OVERRIDES = OVERRIDES

    def setUp(self):
        super().setUp()
        for trigger, points in (
            ("mailing_open", 5),
            ("mailing_click", 3),
            ("mailing_reply", 7),
            ("mailing_bounce", -2),
            ("mailing_unsubscribe", -10),
        ):
            self.add_line(trigger, points)
        self.newsletter = self.env["mailing.list"].create(
            {
                "name": "Nieuwsbrief",
                "contact_ids": [(0, 0, {"name": "Anna", "email": "anna@example.nl"})],
            }
        )
        self.list_mailing = self.create_mailing(
            "Nieuwsbrief maart", "mailing.list", lists=self.newsletter
        )
        self.send(self.list_mailing)
        # Last: the mails of the last sending are the ones found below.
        self.send(self.mailing)
        self.anna_mail = self._find_mail_mail_wrecord(self.anna)
        self.anna_trace = self.trace_of(self.mailing, self.anna)
        self.anna_contact = self.newsletter.contact_ids
        self.pixel_token = self.env["mail.mail"]._generate_mail_recipient_token(self.anna_mail.id)
        self.anna_link = self.link_path(self.mailing, self.anna, "shop")
        self.code = self.anna_link.split("/")[2]

    def ledger_size(self):
        # What the requests gave once the recorded opens and clicks are scored.
        self.score_hits()
        return super().ledger_size()

    # ------------------------------------------------------------------

    def _send(self, method, path, **kwargs):
        response = self.opener.request(
            method, self.base_url() + path, timeout=30, allow_redirects=False, **kwargs
        )
        self.env.invalidate_all()
        return response

    @mute_logger("odoo.http", "odoo.sql_db")
    def call(self, path, method="GET", compare=False, **kwargs):
        """The answer to a request. A 5xx must be Odoo's own: the same request
        with our overrides bypassed gets the same answer (always compared with
        ``compare``)."""
        response = self._send(method, path, **kwargs)
        if compare or response.status_code >= 500:
            with self.bypassed():
                odoo_response = self._send(method, path, **kwargs)
            self.assertEqual(
                response.status_code,
                odoo_response.status_code,
                f"a {response.status_code} of ours on {method} {path[:200]}",
            )
        return response

    def check_cases(self, cases, method="GET"):
        """Each ``(path, status)`` gets Odoo's own answer (``status`` if given)
        and a refused one writes no ledger line."""
        for path, status in cases:
            with self.subTest(path=path[:120]):
                before = self.ledger_size()
                response = self.call(path, method, compare=True)
                if status == REFUSED:
                    self.assertGreaterEqual(response.status_code, 400)
                elif status:
                    self.assertEqual(response.status_code, status)
                if response.status_code >= 400:
                    self.assertEqual(self.ledger_size(), before)

    def json_call(self, path, params):
        """A JSON-RPC route: answered 200, with Odoo's own error only."""
        data = json.dumps({"jsonrpc": "2.0", "method": "call", "params": params})
        headers = {"Content-Type": "application/json"}
        response = self.call(path, "POST", data=data, headers=headers)
        self.assertEqual(response.status_code, 200)
        answer = response.json()
        if "error" in answer:
            with self.bypassed(), mute_logger("odoo.http"):
                odoo_answer = self._send("POST", path, data=data, headers=headers).json()
            self.assertEqual(
                answer["error"]["data"]["name"],
                odoo_answer.get("error", {}).get("data", {}).get("name"),
                f"an error of ours: {answer['error']['data'].get('debug', '')[-800:]}",
            )
        return answer

    def unblock(self):
        """Anna subscribed again: the next unsubscribe runs our code again."""
        self.env["mail.blacklist"].sudo()._remove("anna@example.nl")
        self.anna_contact.subscription_ids.opt_out = False
        self.env.flush_all()

    def unsubscribe_path(self, mailing, document_id, email, token=None):
        if token is None:
            token = mailing._generate_mailing_recipient_token(document_id, email)
        return f"/mailing/{mailing.id}/unsubscribe?" + query(
            document_id=document_id, email=email, hash_token=token
        )

    # ------------------------------------------------------------------
    # The open pixel: /mail/track/<int:mail_id>/<string:token>/blank.gif
    # ------------------------------------------------------------------

    @PROPERTY
    @given(data=st.data())
    def test_pixel_any_parameters(self, data):
        """Property: whatever the mail id and token, Odoo's answer, and a
        point only for the real pixel of the recipient."""
        mail_id = data.draw(
            st.one_of(
                st.just(self.anna_mail.id),
                st.integers(min_value=-(2**70), max_value=2**70),
                HOSTILE_IDS,
                ANY_TEXT,
            ),
            label="mail_id",
        )
        token = data.draw(
            st.one_of(st.just(self.pixel_token), HOSTILE_TEXT, ANY_TEXT), label="token"
        )
        before = self.ledger_size()
        response = self.call(f"/mail/track/{enc(mail_id)}/{enc(token)}/blank.gif")
        valid = is_id(mail_id, self.anna_mail.id) and token == self.pixel_token
        if valid:
            self.assertEqual(response.status_code, 200)
            self.assertIn(self.ledger_size() - before, (0, 1), "one first open at most")
        else:
            self.assertNotEqual(response.status_code, 200)
            self.assertEqual(self.ledger_size(), before)

    def test_pixel_explicit_cases(self):
        mail_id, token = self.anna_mail.id, self.pixel_token
        self.check_cases(
            [
                (f"/mail/track/{mail_id}/{'0' * 64}/blank.gif", 401),  # wrong token
                (f"/mail/track/{mail_id}/%00/blank.gif", 401),
                (f"/mail/track/{mail_id}/{token}%00/blank.gif", 401),
                (f"/mail/track/{mail_id}/{token}%07%1B/blank.gif", 401),
                (f"/mail/track/{mail_id}/{'a' * LONG_URL}/blank.gif", 401),
                (f"/mail/track/-1/{token}/blank.gif", 401),  # Odoo's <int:> is signed
                (f"/mail/track/{2**63}/{token}/blank.gif", 401),
                (f"/mail/track/{10**40}/{token}/blank.gif", 401),
                (f"/mail/track/abc/{token}/blank.gif", 404),
                (f"/mail/track/1.5/{token}/blank.gif", 404),
                (f"/mail/track/{mail_id}/{token}/blank.gif?x=%00&y=%ED%A0%80&z=%07", 200),
            ]
        )
        # The real pixel (with junk in its query string) opened once: 5 points.
        self.assertEqual(self.lines_of(self.engagement, self.anna).points, 5.0)

    @mute_logger("odoo.http")
    def test_pixel_valid_token_for_ids_no_mail_has(self):
        """A valid token (the server's own) for a mail id no mail has, huge
        ones included: Odoo's answer (200, nothing opened), no point."""
        Mail = self.env["mail.mail"]
        before = self.ledger_size()
        for mail_id in (99999999999, 2**31, 2**63 - 1, 2**63, 10**30):
            with self.subTest(mail_id=mail_id):
                token = Mail._generate_mail_recipient_token(mail_id)
                response = self.call(f"/mail/track/{mail_id}/{token}/blank.gif")
                self.assertEqual(response.status_code, 200)
        self.assertEqual(self.ledger_size(), before)

    def test_pixel_odoos_own_500s(self):
        """Documented, Odoo's own 500s (the same without this addon, the
        traceback never reaches our code):

        - a non-ASCII token: the pixel compares tokens with
          ``hmac.compare_digest``, which raises TypeError on non-ASCII text;
        - a NUL in a path that matches no route: Odoo's 404 fallback looks
          the path up as an attachment URL, and PostgreSQL refuses NUL.
        """
        mail_id, token = self.anna_mail.id, self.pixel_token
        for path in (
            f"/mail/track/{mail_id}/{enc('é' + token)}/blank.gif",
            f"/mail/track/{mail_id}/%ED%A0%80{token}/blank.gif",
            f"/mail/track/{mail_id}%00/{token}/blank.gif",
        ):
            with self.subTest(path=path):
                before = self.ledger_size()
                response = self.call(path, compare=True)
                self.assertEqual(response.status_code, 500)
                self.assertEqual(self.ledger_size(), before)

    # ------------------------------------------------------------------
    # Tracked links: /r/<code>/m/<int:mailing_trace_id> and /r/<code>
    # ------------------------------------------------------------------

    @PROPERTY
    @given(data=st.data())
    def test_click_any_parameters(self, data):
        """Property: whatever the code and trace id, Odoo's answer, and points
        only for a known code on the recipient's own trace."""
        code = data.draw(st.one_of(st.just(self.code), HOSTILE_TEXT, ANY_TEXT), label="code")
        trace_id = data.draw(
            st.one_of(
                st.none(),
                st.just(self.anna_trace.id),
                st.integers(min_value=-(2**70), max_value=2**70),
                HOSTILE_IDS,
                ANY_TEXT,
            ),
            label="trace_id",
        )
        path = f"/r/{enc(code)}" + (f"/m/{enc(trace_id)}" if trace_id is not None else "")
        before = self.ledger_size()
        response = self.call(path)
        if code == self.code and (trace_id is None or str(trace_id).isascii()):
            if trace_id is None or str(trace_id).isdigit():
                self.assertEqual(response.status_code, 301, path)
        if code == self.code and trace_id == self.anna_trace.id:
            # The first click also opens: at most a click and an open.
            self.assertLessEqual(self.ledger_size() - before, 2)
        else:
            self.assertEqual(self.ledger_size(), before, path)

    def test_click_explicit_cases(self):
        trace_id, code = self.anna_trace.id, self.code
        before = self.ledger_size()
        self.check_cases(
            [
                # No such trace: Odoo counts the click without it, no point.
                (f"/r/{code}/m/99999999999", 301),
                (f"/r/{code}/m/{2**63}", 301),
                (f"/r/{code}/m/{10**40}", 301),
                (f"/r/{code}/m/-1", 301),
                (f"/r/{code}/m/0", 301),
                (f"/r/{code}", 301),  # a mailing's link without its trace
                (f"/r/{code}/m/abc", 404),
                (f"/r/unknown-code/m/{trace_id}", 404),
                (f"/r/{'x' * LONG_URL}/m/{trace_id}", 404),
                (f"/r/{code}%07/m/{trace_id}", 404),
                (f"/r/{code}%20/m/{trace_id}", 404),
            ]
        )
        self.assertEqual(self.ledger_size(), before)
        self.check_cases([(f"/r/{code}/m/{trace_id}?x=%00&y=%ED%A0%80", 301)])
        # The one real click: an open and a click.
        self.assertEqual(sorted(self.lines_of(self.engagement, self.anna).mapped("points")), [3, 5])

    def test_click_odoos_own_500s(self):
        """Documented: a NUL in the code reaches Odoo's own lookup of the code
        (``link.tracker.code`` search; PostgreSQL refuses NUL): a 500 with or
        without this addon, before any code of ours runs."""
        before = self.ledger_size()
        for path in (f"/r/a%00b/m/{self.anna_trace.id}", "/r/a%00b"):
            with self.subTest(path=path):
                response = self.call(path, compare=True)
                self.assertEqual(response.status_code, 500)
        self.assertEqual(self.ledger_size(), before)

    # ------------------------------------------------------------------
    # Unsubscribe pages: /mailing/<int:id>/unsubscribe, its one-click POST
    # and the legacy /mail/mailing/<int:id>/unsubscribe
    # ------------------------------------------------------------------

    @PROPERTY
    @given(data=st.data())
    def test_unsubscribe_any_parameters(self, data):
        """Property: whatever the parameters, Odoo's answer; no point unless
        the token is the server's own."""
        mailing = data.draw(st.sampled_from([self.mailing, self.list_mailing]), label="mailing")
        mailing_id = data.draw(
            st.one_of(st.just(mailing.id), HOSTILE_IDS, ANY_TEXT), label="mailing_id"
        )
        document = self.anna if mailing == self.mailing else self.anna_contact
        document_id = data.draw(
            st.one_of(st.just(document.id), HOSTILE_IDS, ANY_TEXT), label="document_id"
        )
        email = data.draw(
            st.one_of(st.just("anna@example.nl"), HOSTILE_TEXT, ANY_TEXT), label="email"
        )
        signed = data.draw(st.booleans(), label="signed")
        token = None
        if signed:
            try:
                token = mailing._generate_mailing_recipient_token(document_id, email)
            except ValueError:  # int(document_id): Odoo cannot sign it either
                signed = False
        if not signed:
            token = data.draw(st.one_of(st.just(""), HOSTILE_TEXT, ANY_TEXT), label="token")
        route = data.draw(st.sampled_from(["page", "oneclick", "legacy"]), label="route")
        params = query(document_id=document_id, email=email, hash_token=token)
        self.unblock()
        before = self.ledger_size()
        if route == "page":
            response = self.call(f"/mailing/{enc(mailing_id)}/unsubscribe?{params}")
        elif route == "oneclick":
            path = f"/mailing/{enc(mailing_id)}/unsubscribe_oneclick?{params}"
            response = self.call(path, "POST")
        else:
            legacy = query(res_id=document_id, email=email, token=token)
            response = self.call(f"/mail/mailing/{enc(mailing_id)}/unsubscribe?{legacy}")
        if not (signed and mailing_id == mailing.id and route != "legacy"):
            self.assertEqual(self.ledger_size(), before)
        else:
            self.assertIn(self.ledger_size() - before, (0, 1))
        if route == "legacy" and str(mailing_id).isdigit() and str(mailing_id).isascii():
            self.assertIn(response.status_code, (301, 302, 303))

    def test_unsubscribe_explicit_cases(self):
        anna, email = self.anna, "anna@example.nl"
        good = self.mailing._generate_mailing_recipient_token(anna.id, email)
        mailing_id = self.mailing.id
        self.check_cases(
            [
                # Refused by Odoo's token check: 400 without a token, else an
                # Unauthorized (418 here: Odoo's error page needs the website).
                (f"/mailing/{mailing_id}/unsubscribe?document_id={anna.id}&email={email}", 400),
                (f"/mailing/-1/unsubscribe?document_id={anna.id}&email={email}", 400),
                (f"/mailing/{2**63}/unsubscribe?" + query(document_id=anna.id, email=email), 400),
                (self.unsubscribe_path(self.mailing, anna.id, email, token="0" * 128), REFUSED),
                (self.unsubscribe_path(self.mailing, anna.id, email, token="%00"), REFUSED),
                (self.unsubscribe_path(self.mailing, anna.id, email + "\x00", good), REFUSED),
                (self.unsubscribe_path(self.mailing, anna.id, email + "\ud800", good), REFUSED),
                (self.unsubscribe_path(self.mailing, anna.id, email + "\x07", good), REFUSED),
                (self.unsubscribe_path(self.mailing, anna.id, "x" * LONG_URL, good), REFUSED),
                (self.unsubscribe_path(self.mailing, "abc", email, token=good), REFUSED),
                ("/mailing/99999999999/unsubscribe?document_id=1&email=a&hash_token=b", REFUSED),
                (f"/mailing/{2**63}/unsubscribe?document_id=1&email=a&hash_token=b", REFUSED),
                # Signed, an address that is not one: Odoo refuses to blocklist it.
                (self.unsubscribe_path(self.mailing, anna.id, "not an e-mail\x00\x07"), None),
                (self.unsubscribe_path(self.list_mailing, self.anna_contact.id, "\x00"), 200),
                (self.unsubscribe_path(self.list_mailing, self.anna_contact.id, "x" * 9000), 200),
            ]
        )
        # Signed by the server for odd documents: Odoo blocklists the address
        # (unblocked before each, so that our code runs each time). Not a
        # number: the trace found by e-mail scores, once.
        for document_id in (" 7", 2**63, "99999999999999999999", "٣", "+1", "0"):
            with self.subTest(document_id=document_id):
                self.unblock()
                path = self.unsubscribe_path(self.mailing, document_id, email)
                self.assertEqual(self.call(path, compare=True).status_code, 200)
        # The one-click POST of mail clients, parameters in the body.
        for email_sent in ("x" * 100_000, "a\x00@example.nl", "\ud800@example.nl"):
            with self.subTest(email=email_sent[:20]):
                body = query(document_id=anna.id, email=email_sent, hash_token=good)
                response = self.call(
                    f"/mailing/{mailing_id}/unsubscribe_oneclick",
                    "POST",
                    compare=True,
                    data=body,
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
                self.assertGreaterEqual(response.status_code, 400)
        # The odd documents only blocklisted Anna's address: one unsubscribe.
        self.assertEqual(self.lines_of(self.engagement, anna).mapped("points"), [-10.0])

    def test_valid_unsubscribes_still_score(self):
        self.call(self.unsubscribe_path(self.mailing, self.anna.id, "anna@example.nl"))
        self.call(self.unsubscribe_path(self.list_mailing, self.anna_contact.id, "anna@example.nl"))
        self.assertEqual(self.lines_of(self.engagement, self.anna).mapped("points"), [-10, -10])
        self.assertTrue(self.anna.is_blacklisted)

    # ------------------------------------------------------------------
    # JSON routes of the subscription page (they opt out through
    # mailing.subscription, which this addon hooks)
    # ------------------------------------------------------------------

    @PROPERTY
    @given(data=st.data())
    def test_subscription_json_routes_any_parameters(self, data):
        contact = self.anna_contact
        email = data.draw(
            st.one_of(st.just("anna@example.nl"), HOSTILE_TEXT, ANY_TEXT), label="email"
        )
        document_id = data.draw(
            st.one_of(st.just(contact.id), HOSTILE_IDS, st.lists(st.integers(), max_size=2)),
            label="document_id",
        )
        try:
            token = self.list_mailing._generate_mailing_recipient_token(document_id, email)
        except (ValueError, TypeError):
            token = "0" * 128
        token = data.draw(st.one_of(st.just(token), HOSTILE_TEXT), label="token")
        optin = data.draw(
            st.one_of(
                st.none(),
                st.lists(
                    st.one_of(st.just(self.newsletter.id), st.integers(-(2**63), 2**63)),
                    max_size=3,
                ),
            ),
            label="lists_optin_ids",
        )
        route = data.draw(
            st.sampled_from(
                ["/mailing/list/update", "/mailing/blocklist/add", "/mailing/blocklist/remove"]
            ),
            label="route",
        )
        params = {
            "mailing_id": self.list_mailing.id,
            "document_id": document_id,
            "email": email,
            "hash_token": token,
        }
        if route == "/mailing/list/update":
            params["lists_optin_ids"] = optin
        before = self.ledger_size()
        self.json_call(route, params)
        self.assertIn(self.ledger_size() - before, (0, 1))
        if email != "anna@example.nl":
            self.assertEqual(self.ledger_size(), before)
