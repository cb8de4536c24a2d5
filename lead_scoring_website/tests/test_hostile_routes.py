"""The website's public routes this addon hooks, under hostile parameters,
with its Automations-tab lines active: the lead form (/website/form/crm.lead)
and the tracked pages that record a visitor's views. They answer as Odoo
does without this addon (never a 500 of ours), a refused request scores
nothing, a valid one still scores."""

import http.client
import json
import logging
from contextlib import contextmanager
from types import SimpleNamespace
from urllib.parse import quote

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import odoo
from odoo.tests import tagged
from odoo.tests.common import HOST, Opener

from odoo.addons.lead_scoring.tests.common import HostileRequestChecks

from ..controllers.website_form import WebsiteForm
from ..models.crm_lead import CrmLead
from ..models.res_partner import ResPartner
from ..models.website_visitor import WebsiteVisitor
from .common import CSRF_INPUT, LeadScoringWebsiteCase

ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=16)
HOSTILE_TEXT = st.sampled_from(
    [
        "\x00",
        "a\x00b@example.nl",
        "\ud800",
        "petra\udfff@example.nl",
        "\x07\x08\x1b[31m",
        "\r\nBcc: x@example.org",
        "%00",
        "' OR 1=1 --",
        "<script>alert(1)</script>",
        "Zoë 🚀",
        " ",
        "x" * 50_000,
    ]
)
# What an HTTP header can carry (latin-1, no line break).
HEADER_TEXT = st.text(
    st.characters(min_codepoint=0, max_codepoint=0xFF, exclude_characters="\r\n"), max_size=40
)
HOSTILE_HOSTS = [
    *("[", "[::1", "]", "[zz]", "%00", "\x00", "localhost:99999", "@", "a:b"),
    *("a b", "x" * 1000, "%5B", "a%2Fb", "a%3Ab", "é.example"),
]
# Field names of the lead form a hostile client may send besides the real ones.
FIELD_NAMES = st.sampled_from(
    [
        "contact_name",
        "email_from",
        "name",
        "description",
        "phone",
        "partner_name",
        "partner_id",
        "visitor_ids",
        "user_id",
        "team_id",
        "probability",
        "company_id",
        "state_id",
        "country_id",
        "email_from[]",
        "a[b][c]",
        "email_from[0][x]",
        "__proto__",
        "",
    ]
)
PROPERTY = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Our overrides on the routes' path, bypassed to get Odoo's own answer.
OVERRIDES = [
    (WebsiteForm, "insert_record"),
    (WebsiteVisitor, "write"),
    (WebsiteVisitor, "_upsert_visitor"),
    (WebsiteVisitor, "_merge_visitor"),
    (CrmLead, "create"),
    (CrmLead, "write"),
    (CrmLead, "_lead_scoring_find_target"),
    (ResPartner, "_lead_scoring_find_target"),
]
FORM = "/website/form/crm.lead"
# What the server logs of a request's error.
SERVER_LOGGERS = ("odoo.http", "odoo.sql_db", "odoo.addons.http_routing.models.ir_http")
RAW = "raw"  # the opener of requests sent with http.client
# The visitor is told by its session, address and user agent: the one requests sends.
USER_AGENT = requests.utils.default_user_agent()


def enc(value):
    """``value`` percent-encoded, lone surrogates as their (invalid) UTF-8."""
    return quote(str(value).encode("utf-8", "surrogatepass"), safe="")


def form_body(fields):
    """An urlencoded body of ``[(name, value)]``, repeated names kept."""
    return "&".join(f"{enc(name)}={enc(value)}" for name, value in fields)


@tagged("post_install", "-at_install")
class TestHostileRoutes(HostileRequestChecks, LeadScoringWebsiteCase):
    OVERRIDES = OVERRIDES

    def setUp(self):
        super().setUp()
        for scoring_model in (self.engagement, self.deal_model):
            self.add_line(scoring_model, "Product page visited")
            self.add_line(scoring_model, "Lead form sent", trigger="website_lead_form", points=5)

    # ------------------------------------------------------------------

    def _send(self, opener, method, path, **kwargs):
        if opener == RAW:
            return self._send_raw(method, path, **kwargs)
        response = opener.request(
            method, self.base_url() + path, timeout=30, allow_redirects=False, **kwargs
        )
        self.env.invalidate_all()
        return response

    def _send_raw(self, method, path, headers):
        """A request sent as is (requests reads the Host header to pick its
        cookies, and chokes on an unparsable one)."""
        self.env.flush_all()
        self.env.cr.flush()
        self.env.cr.clear()
        connection = http.client.HTTPConnection(HOST, odoo.tools.config["http_port"], timeout=30)
        try:
            connection.request(method, path, headers=headers)
            answer = connection.getresponse()
            answer.read()
        finally:
            connection.close()
        self.env.invalidate_all()
        return SimpleNamespace(status_code=answer.status)

    @contextmanager
    def server_errors(self):
        """The errors the server logs meanwhile, kept from the log."""
        records = []
        handler = logging.Handler(logging.ERROR)
        handler.emit = records.append
        loggers = [logging.getLogger(name) for name in SERVER_LOGGERS]
        saved = [(logger.propagate, logger.handlers[:]) for logger in loggers]
        for logger in loggers:
            logger.propagate = False
            logger.handlers = [handler]
        try:
            yield records
        finally:
            for logger, (propagate, handlers) in zip(loggers, saved, strict=True):
                logger.propagate, logger.handlers = propagate, handlers

    def ledger_size(self):
        # What the requests gave once the recorded page views are credited.
        self.score_hits()
        return super().ledger_size()

    def call(self, path, method="GET", compare=False, opener=None, **kwargs):
        """The answer to a request. A 5xx must be Odoo's own: the same request
        with our overrides bypassed gets the same answer (always compared with
        ``compare``). ``opener``: another session than the test's."""
        opener = opener or self.opener
        with self.server_errors() as errors:
            response = self._send(opener, method, path, **kwargs)
            if compare or response.status_code >= 500:
                with self.bypassed():
                    odoo_response = self._send(opener, method, path, **kwargs)
                self.assertEqual(
                    response.status_code,
                    odoo_response.status_code,
                    f"a {response.status_code} of ours on {method} {path[:200]}:\n"
                    + "\n".join(logging.Formatter().format(record)[-2000:] for record in errors),
                )
        return response

    def post_form(self, fields, path=FORM, compare=False, opener=None):
        response = self.call(
            path,
            "POST",
            compare=compare,
            opener=opener,
            data=form_body(fields),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        lead_id = None
        if response.status_code == 200:
            # The form answers JSON as text/html.
            answer = json.loads(response.text)
            lead_id = answer.get("id") if isinstance(answer, dict) else None
        return response, lead_id

    def stranger(self):
        """A new anonymous session (its own visitor)."""
        return Opener(self.env.cr)

    # ------------------------------------------------------------------
    # The lead form
    # ------------------------------------------------------------------

    @PROPERTY
    @given(data=st.data())
    def test_form_any_fields(self, data):
        """Property: whatever the fields, Odoo's answer; points only with a
        lead created (its form lines, and views its visitor made)."""
        fields = [
            ("contact_name", data.draw(st.one_of(st.just("Petra"), HOSTILE_TEXT, ANY_TEXT))),
            (
                "email_from",
                data.draw(st.one_of(st.just("petra@example.nl"), HOSTILE_TEXT, ANY_TEXT)),
            ),
            ("name", data.draw(st.one_of(st.just("Vraag"), HOSTILE_TEXT, ANY_TEXT))),
            *data.draw(
                st.lists(
                    st.tuples(
                        FIELD_NAMES | ANY_TEXT,
                        HOSTILE_TEXT | ANY_TEXT | st.integers().map(str),
                    ),
                    max_size=4,
                ),
                label="extra fields",
            ),
        ]
        before = self.ledger_size()
        _response, lead_id = self.post_form(fields, opener=self.stranger())
        # A 5xx was checked to be Odoo's own by call(): see test_form_odoos_own_500s.
        if lead_id:
            # Two form lines; a new visitor has no views yet.
            self.assertLessEqual(self.ledger_size() - before, 2)
        else:
            self.assertEqual(self.ledger_size(), before)

    def test_form_explicit_cases(self):
        valid = [("contact_name", "Petra"), ("email_from", "petra@example.nl"), ("name", "Vraag")]
        cases = [
            [("email_from", "petra\ud800@example.nl"), ("name", "Vraag")],  # U+FFFD here
            [("email_from", "\x07\x1b@example.nl"), ("name", "Vraag\x07")],
            [*valid, ("description", "x" * 50_000)],
            [*valid, ("email_from", "second@example.nl")],  # a repeated field
            [*valid, ("a[b][c]", "1"), ("email_from[]", "x"), ("partner_id", "abc")],
            [*valid, ("partner_id", str(2**63)), ("team_id", "0"), ("state_id", "-1")],
            [*valid, ("probability", "1e308"), ("country_id", "99999999999")],
            [*valid, ("visitor_ids", "[(6, 0, [1])]"), ("company_id", "-1")],
            [("name", "Vraag")],  # no e-mail: the line's filter does not pass
            [*valid, ("partner_id", "-5")],
            [("email_from", "a@example.nl"), ("name", "V"), ("description", "a\x00b")],
        ]
        for fields in cases:
            with self.subTest(fields=str(fields)[:120]):
                before = self.ledger_size()
                response, lead_id = self.post_form(fields, compare=True, opener=self.stranger())
                self.assertLess(response.status_code, 500)
                if not lead_id:
                    self.assertEqual(self.ledger_size(), before)

    def test_form_odd_routes(self):
        """Other models and odd model names: Odoo's answer, never a point."""
        fields = [("contact_name", "Petra"), ("email_from", "petra@example.nl"), ("name", "V")]
        before = self.ledger_size()
        for path in (
            "/website/form/res.users",
            "/website/form/crm.lead.nope",
            "/website/form/" + "x" * 10_000,
            "/website/form/crm.lead%07",
            "/website/form/crm.lead%ED%A0%80",
            "/website/form/",
        ):
            with self.subTest(path=path[:60]):
                response, lead_id = self.post_form(fields, path=path, compare=True)
                self.assertLess(response.status_code, 500)
                self.assertFalse(lead_id)
        self.assertEqual(self.ledger_size(), before)

    def test_form_with_wrong_csrf_when_logged_in(self):
        self.authenticate(self.portal.login, self.portal.login)
        fields = [("email_from", self.portal.email), ("name", "V"), ("csrf_token", "x\x00")]
        before = self.ledger_size()
        response, lead_id = self.post_form(fields, compare=True)
        self.assertEqual(response.status_code, 400)
        self.assertFalse(lead_id)
        self.assertEqual(self.ledger_size(), before)

    def test_form_odoos_own_500s(self):
        """Documented, Odoo's own 500s (the same without this addon, nothing
        written), raised in Odoo's ``create`` of the lead before any scoring:

        - a NUL in a text field (PostgreSQL refuses it);
        - a constraint the database checks (no subject, an unknown user
          id): the form catches the IntegrityError but inside its savepoint,
          whose release then fails (InFailedSqlTransaction).
        """
        valid = [("contact_name", "Petra"), ("email_from", "petra@example.nl"), ("name", "V")]
        email = ("email_from", "petra@example.nl")
        for fields in (
            [email, ("name", "V"), ("contact_name", "a\x00b")],
            [email, ("name", "Vraag\x00")],
            [email, ("name", "V"), ("partner_name", "\x00")],
            [],
            [("email_from", "petra@example.nl")],
            [*valid, ("user_id", "-1")],
            [("email_from", "a\x00b@example.nl"), ("name", "Vraag")],
        ):
            with self.subTest(fields=fields):
                before = self.ledger_size()
                response, _lead_id = self.post_form(fields, compare=True, opener=self.stranger())
                self.assertEqual(response.status_code, 500)
                self.assertEqual(self.ledger_size(), before)

    # ------------------------------------------------------------------
    # Tracked pages (a website.track per view, scored for known visitors)
    # ------------------------------------------------------------------

    @PROPERTY
    @given(data=st.data())
    def test_page_visits_any_parameters(self, data):
        """Property: a known visitor's requests with any query, path suffix,
        headers and cookies get Odoo's answer; only a view of a tracked
        /shop/ page scores (one point per scoring model at most)."""
        if not getattr(self, "_logged_in", False):
            self.authenticate(self.portal.login, self.portal.login)
            self._logged_in = True
        page = data.draw(st.sampled_from(["/shop/product-1", "/over-ons", "/shop"]), label="page")
        suffix = data.draw(
            st.one_of(
                st.just(""),
                ANY_TEXT.map(lambda text: "?q=" + enc(text)),
                # Short of the 64 KiB request line Odoo's server answers at all.
                HOSTILE_TEXT.map(lambda text: f"?{enc(text[:5000])}={enc(text[:5000])}&page=-1"),
                ANY_TEXT.map(lambda text: "/" + enc(text)),
                st.just("%00"),
                st.just("%ED%A0%80"),
            ),
            label="suffix",
        )
        headers = {
            "User-Agent": data.draw(HEADER_TEXT, label="user agent"),
            "Accept-Language": data.draw(HEADER_TEXT, label="accept language"),
            "Referer": data.draw(HEADER_TEXT, label="referer"),
        }
        cookies = {"visitor_uuid": data.draw(HEADER_TEXT.filter(str.strip), label="visitor_uuid")}
        before = self.ledger_size()
        # A 5xx is checked to be Odoo's own (a NUL in a path: test_odd_paths).
        response = self.call(page + suffix, headers=headers, cookies=cookies)
        scored = self.ledger_size() - before
        if response.status_code == 200 and page.startswith("/shop/"):
            self.assertLessEqual(scored, 1, "the portal user has a contact, no lead")
        else:
            self.assertEqual(scored, 0)

    def test_forged_visitor_cookies_and_sessions(self):
        """Forged visitor cookies and session ids: an anonymous visitor (Odoo
        18 identifies visitors by their session, not by a cookie of their
        own), whose views score nothing until it is known."""
        forged = ["\x00", "x" * 10_000, "not-hex-zz", "0" * 32, "%00", "'; DROP TABLE x; --"]
        before = self.ledger_size()
        for value in forged:
            for cookie in ("visitor_uuid", "session_id"):
                with self.subTest(cookie=cookie, value=value[:20]):
                    response = self.call(
                        "/shop/product-1",
                        compare=True,
                        opener=self.stranger(),
                        cookies={cookie: value},
                    )
                    self.assertEqual(response.status_code, 200)
        self.assertEqual(self.ledger_size(), before)

    def test_hostile_host_headers(self):
        """The tracked URL (and so the path the lines match) is built from
        the request's Host header: an unparsable one is Odoo's answer."""
        self.authenticate(self.portal.login, self.portal.login)
        cookie = f"session_id={self.session.sid}"
        before = self.ledger_size()
        for host in HOSTILE_HOSTS:
            with self.subTest(host=host[:20]):
                self.call(
                    "/shop/product-1",
                    compare=True,
                    opener=RAW,
                    headers={"Host": host, "Cookie": cookie, "User-Agent": USER_AGENT},
                )
        self.assertLessEqual(self.ledger_size() - before, len(HOSTILE_HOSTS))

    def test_hostile_host_views_do_not_break_the_form(self):
        """Anonymous views made with an unparsable Host header are credited
        when the visitor sends the lead form: the form still gets Odoo's
        answer, and the views that can be read still count."""
        stranger = self.stranger()
        self.call("/shop/product-2", opener=stranger)
        cookie = f"session_id={stranger.cookies['session_id']}"
        for host in HOSTILE_HOSTS:
            self.call(
                "/shop/product-1",
                opener=RAW,
                headers={"Host": host, "Cookie": cookie, "User-Agent": USER_AGENT},
            )
        response, lead_id = self.post_form(
            [("contact_name", "Petra"), ("email_from", "petra@example.nl"), ("name", "V")],
            opener=stranger,
        )
        self.assertEqual(response.status_code, 200)
        self.assertTrue(lead_id)
        lead = self.env["crm.lead"].browse(lead_id)
        reasons = self.lines_of(self.deal_model, lead).mapped("reason")
        self.assertIn("Product page visited: /shop/product-2", reasons)

    def test_odd_paths(self):
        """Not found, surrogates, very long paths: Odoo's answer, and a page
        that is not viewed scores nothing. Documented: a NUL in a path that
        is no page is Odoo's own 500 (the website looks the path up as a
        page or an attachment URL; PostgreSQL refuses NUL)."""
        self.authenticate(self.portal.login, self.portal.login)
        before = self.ledger_size()
        for path, status in (
            ("/shop/product-99", 404),
            ("/shop/%ED%A0%80", 404),
            ("/shop/%07%1B", 404),
            ("/shop/" + "x" * 60_000, 404),
            ("/shop/product-1/..%2F..%2Fweb", 404),
            ("/shop/product-1%00", 500),
            ("/nl/shop/product-1%00", 500),
        ):
            with self.subTest(path=path[:60]):
                response = self.call(path, compare=True)
                self.assertEqual(response.status_code, status)
        self.assertEqual(self.ledger_size(), before)

    def test_login_after_hostile_views(self):
        """Odoo merges the anonymous visitor into the user's at login (the
        known visitor then gets its views): hostile logins get Odoo's answer,
        and the views made with junk query strings count after a real one."""
        stranger = self.stranger()
        self.call("/shop/product-1?q=%00%ED%A0%80&page=-1", opener=stranger)
        before = self.ledger_size()
        for login, password in (
            ("lsw_portal\x00", "x"),
            ("\ud800", "\ud800"),
            ("x" * 50_000, "x"),
            ("lsw_portal", "wrong\x07"),
        ):
            with self.subTest(login=login[:20]):
                page = stranger.get(self.base_url() + "/web/login", timeout=30)
                token = CSRF_INPUT.search(page.text)[1]
                self.call(
                    "/web/login",
                    "POST",
                    compare=True,
                    opener=stranger,
                    data=form_body(
                        [("login", login), ("password", password), ("csrf_token", token)]
                    ),
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
        self.assertEqual(self.ledger_size(), before)
        page = stranger.get(self.base_url() + "/web/login", timeout=30)
        fields = [("login", "lsw_portal"), ("password", "lsw_portal")]
        fields.append(("csrf_token", CSRF_INPUT.search(page.text)[1]))
        response = self.call(
            "/web/login",
            "POST",
            opener=stranger,
            data=form_body(fields),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        self.assertEqual(response.status_code, 303)
        points = self.lines_of(self.engagement, self.portal.partner_id)
        self.assertEqual(points.mapped("reason"), ["Product page visited: /shop/product-1"])

    def test_valid_requests_still_score(self):
        """After the hostile ones: a visit with junk in its query string and a
        lead form with odd but valid fields score as always."""
        stranger = self.stranger()
        self.call(
            "/shop/product-1?x=%00&y=%ED%A0%80", opener=stranger, cookies={"visitor_uuid": "\x00"}
        )
        response, lead_id = self.post_form(
            [
                ("contact_name", "Petra\x07"),
                ("email_from", "petra@example.nl"),
                ("name", "Vraag"),
                ("description", "x" * 50_000),
                ("a[b]", "c"),
            ],
            opener=stranger,
        )
        self.assertEqual(response.status_code, 200)
        self.assertTrue(lead_id)
        lead = self.env["crm.lead"].browse(lead_id)
        petra = lead.partner_id
        self.assertEqual(sorted(self.lines_of(self.engagement, petra).mapped("points")), [1.0, 5.0])
        self.assertEqual(sorted(self.lines_of(self.deal_model, lead).mapped("points")), [1.0, 5.0])
