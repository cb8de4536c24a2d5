"""The data set of the benchmarks: realistic contacts and deals loaded with
COPY, the references they use (tags, stages, countries) and the scoring
models with their rules and bands, configured through the ORM; the
``--segments`` data set with a history that bench_preview.py and
bench_insight.py share.

Same seed, same data: every generator draws from ``bench.rng``. No side
effect on import (see ``harness.py``).
"""

import itertools
import unicodedata
from dataclasses import asdict, dataclass
from datetime import timedelta

from harness import (
    COPY_BATCH,
    copy_rows,
    fmt_date,
    next_id,
    recompute,
    reset_sequence,
    sql_bool,
)

from odoo import SUPERUSER_ID
from odoo.fields import Command
from odoo.tools import SQL

# ----------------------------------------------------------------------------
# Realistic data pools (a Dutch B2B company selling across Europe)
# ----------------------------------------------------------------------------

FIRST_NAMES = [
    "Anna", "Bram", "Daan", "Emma", "Fleur", "Jan", "Julia", "Lars", "Lotte", "Luuk",
    "Mila", "Noah", "Pieter", "Sanne", "Sem", "Sophie", "Thijs", "Tess", "Wouter",
    "Zoë", "Lukas", "Marie", "Hannah", "Oliver", "Charlotte", "James", "Léa", "Hugo",
    "Elena", "Marco", "Sofia", "Erik", "Ingrid", "Piotr", "Agnieszka", "José", "Carmen",
    "Olivia", "Liam", "Yusuf", "Fatima", "Mohamed", "Nina", "Jasper", "Ruben", "Joëlle",
    "Björn",
]  # fmt: skip
LAST_NAMES = [
    "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker",
    "Janssen", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot",
    "Bos", "Vos", "Peters", "Hendriks", "Dekker", "Müller", "Schmidt",
    "Schneider", "Fischer", "Smith", "Jones", "Taylor", "Brown", "Martin",
    "Bernard", "Dubois", "Rossi", "Russo", "García", "Fernández", "Andersson",
    "Nowak", "Kowalski", "Peeters", "Maes", "Claes", "Willems", "Yilmaz",
    "El Amrani",
]  # fmt: skip
# (country code, weight, cities, top-level domain, time zone, phone prefix);
# None = contact without a country.
COUNTRIES = [
    ("NL", 38, ["Amsterdam", "Rotterdam", "Den Haag", "Utrecht", "Eindhoven",
                "Groningen", "Zwolle", "Haarlem", "Nijmegen", "Breda"],
     "nl", "Europe/Amsterdam", "+31"),
    ("BE", 12, ["Brussel", "Antwerpen", "Gent", "Leuven", "Brugge", "Liège"],
     "be", "Europe/Brussels", "+32"),
    ("DE", 10, ["Berlin", "Hamburg", "München", "Köln", "Düsseldorf"],
     "de", "Europe/Berlin", "+49"),
    ("GB", 7, ["London", "Manchester", "Bristol", "Leeds", "Edinburgh"],
     "co.uk", "Europe/London", "+44"),
    ("FR", 6, ["Paris", "Lyon", "Lille", "Marseille", "Toulouse"],
     "fr", "Europe/Paris", "+33"),
    ("US", 8, ["New York", "Chicago", "Austin", "Seattle", "Boston"],
     "com", "America/New_York", "+1"),
    ("ES", 3, ["Madrid", "Barcelona", "Valencia"], "es", "Europe/Madrid", "+34"),
    ("IT", 3, ["Milano", "Roma", "Torino"], "it", "Europe/Rome", "+39"),
    ("SE", 2, ["Stockholm", "Göteborg"], "se", "Europe/Stockholm", "+46"),
    ("PL", 3, ["Warszawa", "Kraków", "Gdańsk"], "pl", "Europe/Warsaw", "+48"),
    (None, 8, [None], "com", None, None),
]  # fmt: skip
FREE_MAIL = [
    ("gmail.com", 30), ("outlook.com", 12), ("hotmail.com", 12), ("yahoo.com", 5),
    ("icloud.com", 4), ("ziggo.nl", 6), ("kpnmail.nl", 4), ("live.nl", 4),
    ("web.de", 3), ("orange.fr", 3), ("telenet.be", 3),
]  # fmt: skip
JOB_TITLES = [
    ("CEO", 3), ("CTO", 2), ("CFO", 1), ("Managing Director", 2),
    ("Sales Director", 2), ("Marketing Manager", 5), ("Sales Manager", 5),
    ("Account Manager", 6), ("Office Manager", 4), ("Inkoper", 4),
    ("Purchasing Manager", 3), ("Software Developer", 6), ("Consultant", 6),
    ("Projectleider", 4), ("HR Advisor", 3), ("Student", 3), ("Eigenaar", 3),
    ("Director of Operations", 2), (None, 20),
]  # fmt: skip
COMPANY_WORDS = [
    "Noord", "Zuid", "Delta", "Polder", "Tulip", "Atlas", "Nova", "Orion", "Vector",
    "Blue", "Green", "Smart", "Prime", "Alpha", "Nexus", "Horizon", "Apex", "Zenith",
    "Lumen", "Vertex", "Solid", "Bright", "Rapid", "Quantum", "Pioneer", "Dijk",
    "Molen", "Haven", "Brug", "Toren",
]  # fmt: skip
COMPANY_KINDS = [
    "Logistics", "Software", "Consulting", "Bouw", "Techniek", "Media", "Food",
    "Energy", "Health", "Finance", "Retail", "Solutions", "Systems", "Group",
    "Partners", "Labs",
]  # fmt: skip
LEGAL_FORMS = {
    "NL": ["B.V.", "N.V.", "V.O.F."], "BE": ["BV", "NV"], "DE": ["GmbH", "AG"],
    "GB": ["Ltd", "PLC"], "FR": ["SARL", "SAS"], "US": ["Inc.", "LLC"],
}  # fmt: skip
STREETS = [
    "Hoofdstraat", "Kerkstraat", "Stationsweg", "Dorpsstraat", "Industrieweg",
    "Marktplein", "Havenweg", "Schoolstraat", "Molenweg", "Parklaan",
]  # fmt: skip
PARTNER_TAGS = [
    ("Klant", 14), ("Prospect", 18), ("VIP", 3), ("Partner", 4), ("Leverancier", 4),
    ("Concurrent", 1), ("Nieuwsbrief", 25), ("Event 2024", 6), ("Event 2025", 6),
    ("Webinar", 8), ("Reseller", 3), ("Pers", 1),
]  # fmt: skip
CRM_TAGS = [
    ("Software", 30), ("Services", 20), ("Consulting", 15), ("Training", 10),
    ("Hardware", 8), ("Upsell", 10), ("Renewal", 7),
]  # fmt: skip
DEAL_PRODUCTS = (
    "Implementatie", "Licenties", "Supportcontract", "Training", "Consultancy",
    "Migratie", "Upgrade", "Onderhoud",
)  # fmt: skip
# Stage name -> (weight among opportunities, probability).
DEAL_STAGES = {
    "New": (35, 10.0),
    "Qualified": (25, 30.0),
    "Proposition": (20, 60.0),
    "Won": (20, 100.0),
}

PARTNER_COLUMNS = (
    "id", "name", "complete_name", "type", "lang", "tz", "active", "is_company",
    "employee", "partner_share", "parent_id", "commercial_partner_id",
    "commercial_company_name", "email", "email_normalized", "phone", "street",
    "zip", "city", "country_id", "function", "website", "color", "message_bounce",
    "contact_score", "create_uid", "create_date", "write_uid", "write_date",
)  # fmt: skip
LEAD_COLUMNS = (
    "id", "name", "type", "active", "company_id", "team_id", "user_id", "stage_id",
    "partner_id", "priority", "expected_revenue", "prorated_revenue", "probability",
    "color", "message_bounce", "deal_score", "date_open", "date_last_stage_update",
    "date_closed", "create_uid", "create_date", "write_uid", "write_date",
)  # fmt: skip


# Columns every copied row gets, as the ORM's defaults would have set them.
PARTNER_DEFAULTS = {
    "type": "contact",
    "lang": "en_US",
    "is_company": "f",
    "employee": "f",
    "partner_share": "t",
    "color": 0,
    "message_bounce": 0,
    "contact_score": 0.0,
    "create_uid": SUPERUSER_ID,
    "write_uid": SUPERUSER_ID,
}
LEAD_DEFAULTS = {
    "color": 0,
    "message_bounce": 0,
    "deal_score": 0.0,
    "create_uid": SUPERUSER_ID,
    "write_uid": SUPERUSER_ID,
}
# Contacts per company: (count, weight).
COMPANY_SIZES = [(0, 20), (1, 20), (2, 20), (3, 15), (5, 15), (8, 8), (15, 2)]


def weighted(rng, pairs):
    """One value of ``[(value, weight), ...]``."""
    return rng.choices([v for v, _ in pairs], weights=[w for _, w in pairs])[0]


def slug(text):
    """ASCII, lower case, no spaces: what an e-mail address or domain is made of."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_text.lower() if ch.isalnum())


def create_contacts(bench, count):
    """``count`` contacts with a name and an e-mail, committed (crons off)."""
    env = bench.env
    env["ir.cron"].search([]).write({"active": False})
    names = [
        f"{bench.rng.choice(FIRST_NAMES)} {bench.rng.choice(LAST_NAMES)}" for _ in range(count)
    ]
    partners = env["res.partner"].create(
        [
            {"name": name, "email": f"{slug(name)}.{index}@example.nl"}
            for index, name in enumerate(names)
        ]
    )
    bench.cr.commit()
    return partners


# ----------------------------------------------------------------------------
# Data generation and loading
# ----------------------------------------------------------------------------


class PartnerGenerator:
    """Streams res.partner rows: companies with child contacts, and individuals."""

    def __init__(self, rng, refs, now):
        self.rng = rng
        self.countries = refs["countries"]
        self.tags = refs["partner_tags"]
        self.now = now
        # The company whose contacts come next: (id, name, domain, country, city).
        self.company = None
        self.children_left = 0

    def rows(self, first_id, count):
        """Yield ``(partner row, tag ids)`` for ``count`` partners from ``first_id``."""
        for partner_id in range(first_id, first_id + count):
            if self.children_left > 0:
                self.children_left -= 1
                values, country = self.child(partner_id)
            elif self.rng.random() < 0.10:
                values, country = self.new_company(partner_id)
            else:
                values, country = self.individual(partner_id)
            yield self.row(partner_id, country, values), self.tag_ids()

    def new_company(self, partner_id):
        rng = self.rng
        country = weighted(rng, [(c, c[1]) for c in COUNTRIES])
        base = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)}"
        name = f"{base} {rng.choice(LEGAL_FORMS.get(country[0], ['Ltd']))}"
        domain = f"{slug(base)}{rng.randint(1, 999)}.{country[3]}"
        city = rng.choice(country[2])
        self.company = (partner_id, name, domain, country, city)
        self.children_left = weighted(rng, COMPANY_SIZES)
        values = {
            "name": name,
            "complete_name": name,
            "is_company": "t",
            "commercial_company_name": name,
            "email": f"info@{domain}",
            "city": city,
            "website": f"https://www.{domain}",
        }
        return values, country

    def child(self, partner_id):
        company_id, company_name, domain, country, city = self.company
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        name = f"{first} {last}"
        values = {
            "name": name,
            "complete_name": f"{company_name}, {name}",
            "parent_id": company_id,
            "commercial_partner_id": company_id,
            "commercial_company_name": company_name,
            "email": f"{slug(first)}.{slug(last)}@{domain}",
            "city": city,
            "function": weighted(self.rng, JOB_TITLES),
        }
        if self.rng.random() < 0.05:
            values["email"] = None
        return values, country

    def individual(self, partner_id):
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        country = weighted(rng, [(c, c[1]) for c in COUNTRIES])
        roll = rng.random()
        if roll < 0.07:
            email = None
        elif roll < 0.15:  # own domain
            email = f"{slug(first)}@{slug(last)}{rng.randint(1, 99)}.{country[3]}"
        else:
            suffix = rng.choice(["", "", str(rng.randint(1, 99))])
            email = f"{slug(first)}.{slug(last)}{suffix}@{weighted(rng, FREE_MAIL)}"
        values = {
            "name": f"{first} {last}",
            "complete_name": f"{first} {last}",
            "email": email,
            "city": rng.choice(country[2]),
            "function": weighted(rng, JOB_TITLES),
        }
        return values, country

    def row(self, partner_id, country, values):
        """The COPY row: what the ORM would have stored for these values."""
        rng = self.rng
        created = self.now - timedelta(seconds=rng.uniform(0, 6 * 365 * 86400))
        written = created + (self.now - created) * rng.random()
        email = values.get("email")
        values = {
            **PARTNER_DEFAULTS,
            "id": partner_id,
            "commercial_partner_id": partner_id,
            "active": sql_bool(rng.random() >= 0.01),
            "tz": country[4],
            "country_id": self.countries.get(country[0]),
            "email_normalized": email and email.lower(),
            "phone": country[5] and f"{country[5]} {rng.randint(10**8, 10**9 - 1)}",
            "street": f"{rng.choice(STREETS)} {rng.randint(1, 250)}",
            "zip": str(rng.randint(1000, 9999)),
            "create_date": fmt_date(created),
            "write_date": fmt_date(written),
            **values,
        }
        return tuple(values.get(column) for column in PARTNER_COLUMNS)

    def tag_ids(self):
        count = weighted(self.rng, [(0, 35), (1, 35), (2, 20), (3, 10)])
        names = {weighted(self.rng, PARTNER_TAGS) for _ in range(count)}
        return [self.tags[name] for name in names]


def load_partners(bench, rng, count):
    """COPY ``count`` partners in batches; returns (first id, last id, statements)."""
    cr = bench.cr
    first_id = next_id(cr, "res_partner")
    generator = PartnerGenerator(rng, bench.refs, bench.now)
    rows = generator.rows(first_id, count)
    statements = 0
    while batch := list(itertools.islice(rows, COPY_BATCH)):
        copy_rows(cr, "res_partner", PARTNER_COLUMNS, (row for row, _ in batch))
        tag_rows = ((tag, row[0]) for row, tags in batch for tag in tags)
        copy_rows(
            cr, "res_partner_res_partner_category_rel", ("category_id", "partner_id"), tag_rows
        )
        statements += 2
    reset_sequence(cr, "res_partner")
    return first_id, first_id + count - 1, statements


def deal_rows(rng, refs, now, first_id, count, partner_range):
    """Yield ``(crm.lead row, tag ids)``; contact data is copied from the partner later."""
    for lead_id in range(first_id, first_id + count):
        opportunity = rng.random() < 0.85
        stage = weighted(rng, [(s, w) for s, (w, _) in DEAL_STAGES.items()])
        stage = stage if opportunity else "New"
        lost = stage != "Won" and rng.random() < 0.12
        probability = 0.0 if lost else DEAL_STAGES[stage][1]
        revenue = round(rng.lognormvariate(9.0, 1.1), -2)
        created = now - timedelta(seconds=rng.uniform(0, 3 * 365 * 86400))
        written = fmt_date(created + (now - created) * rng.random())
        values = {
            **LEAD_DEFAULTS,
            "id": lead_id,
            "name": f"{rng.choice(DEAL_PRODUCTS)} {rng.choice(COMPANY_WORDS)}",
            "type": "opportunity" if opportunity else "lead",
            "active": sql_bool(not lost),
            "company_id": refs["company"],
            "team_id": refs["team"],
            "user_id": refs["user"],
            "stage_id": refs["stages"][stage],
            "partner_id": rng.randint(*partner_range) if rng.random() < 0.9 else None,
            "priority": weighted(rng, [("0", 50), ("1", 30), ("2", 15), ("3", 5)]),
            "expected_revenue": revenue,
            "prorated_revenue": round(revenue * probability / 100, 2),
            "probability": probability,
            "create_date": fmt_date(created),
            "date_open": fmt_date(created),
            "date_last_stage_update": written,
            "date_closed": written if stage == "Won" else None,
            "write_date": written,
        }
        tags = {weighted(rng, CRM_TAGS) for _ in range(rng.choice([0, 1, 1, 2]))}
        row = tuple(values.get(column) for column in LEAD_COLUMNS)
        yield row, [refs["crm_tags"][name] for name in tags]


def load_deals(bench, rng, count, partner_range):
    """COPY ``count`` deals for partners in ``partner_range``; returns statements run."""
    cr = bench.cr
    first_id = next_id(cr, "crm_lead")
    rows = deal_rows(rng, bench.refs, bench.now, first_id, count, partner_range)
    statements = 0
    while batch := list(itertools.islice(rows, COPY_BATCH)):
        copy_rows(cr, "crm_lead", LEAD_COLUMNS, (row for row, _ in batch))
        tag_rows = ((row[0], tag) for row, tags in batch for tag in tags)
        copy_rows(cr, "crm_tag_rel", ("lead_id", "tag_id"), tag_rows)
        statements += 2
    reset_sequence(cr, "crm_lead")
    # A deal's contact data is its customer's, and it is not older than its customer.
    cr.execute(
        SQL(
            """
            UPDATE crm_lead l
               SET email_from = p.email, email_normalized = p.email_normalized,
                   country_id = p.country_id, city = p.city,
                   contact_name = CASE WHEN p.is_company THEN NULL ELSE p.name END,
                   partner_name = p.commercial_company_name,
                   create_date = GREATEST(l.create_date, p.create_date),
                   date_open = GREATEST(l.date_open, p.create_date),
                   date_last_stage_update = GREATEST(l.date_last_stage_update, p.create_date),
                   write_date = GREATEST(l.write_date, p.create_date)
              FROM res_partner p
             WHERE p.id = l.partner_id AND l.id >= %s
            """,
            first_id,
        )
    )
    return statements + 1


def load_dataset(bench, name, contacts, deals):
    """Load contacts, then deals whose customers are among them.

    :return: (first id, last id) of the new partners
    """
    rng = bench.rng
    with bench.measure(name, contacts + deals) as step:
        first, last, statements = load_partners(bench, rng, contacts)
        statements += load_deals(bench, rng, deals, (first, last))
        # Fresh planner statistics, as autovacuum would have them on a live database.
        bench.cr.execute(
            "ANALYZE res_partner, crm_lead, res_partner_res_partner_category_rel, crm_tag_rel"
        )
        bench.cr.commit()
        bench.env.invalidate_all()
        step.queries += statements
        step.note = f"COPY in batches of {COPY_BATCH:,}"
    return first, last


# ----------------------------------------------------------------------------
# Configuration through the ORM
# ----------------------------------------------------------------------------


def prepare_references(bench):
    """Tags, stages, countries and the like that data and rules refer to."""
    env = bench.env
    # No cron worker of another Odoo process may run jobs in this database mid-measure.
    env["ir.cron"].search([]).write({"active": False})
    partner_tags = env["res.partner.category"].create([{"name": n} for n, _ in PARTNER_TAGS])
    crm_tags = env["crm.tag"].create([{"name": n} for n, _ in CRM_TAGS])
    codes = [c[0] for c in COUNTRIES if c[0]]
    countries = env["res.country"].search([("code", "in", codes)])
    stages = env["crm.stage"].search([])
    # Fields the naive loop writes its scores to: never the engine's tables.
    for model, names in (
        ("res.partner", ("x_naive_engagement", "x_naive_profile")),
        ("crm.lead", ("x_naive_deal",)),
    ):
        env["ir.model.fields"].create(
            [
                {
                    "name": n,
                    "field_description": n,
                    "model_id": env["ir.model"]._get_id(model),
                    "ttype": "float",
                    "state": "manual",
                }
                for n in names
            ]
        )
    bench.refs = {
        "partner_tags": {t.name: t.id for t in partner_tags},
        "crm_tags": {t.name: t.id for t in crm_tags},
        "countries": {c.code: c.id for c in countries},
        "stages": {s.name: s.id for s in stages},
        "company": env.company.id,
        "team": env.ref("sales_team.team_sales_department").id,
        "user": env.ref("base.user_admin").id,
    }
    bench.cr.commit()


def key_accounts(bench, first, last):
    """The three companies with the most contacts among the given partners."""
    bench.cr.execute(
        SQL(
            """
            SELECT parent_id FROM res_partner
             WHERE parent_id BETWEEN %s AND %s AND active
             GROUP BY parent_id ORDER BY COUNT(*) DESC, parent_id LIMIT 3
            """,
            first,
            last,
        )
    )
    return [row[0] for row in bench.cr.fetchall()]


def pick(values, variant):
    return values[variant % len(values)]


def older_than(field_name, unit, amount, operator="<"):
    """Domain text "field before today minus amount unit", evaluated at each run."""
    return (
        f"[('{field_name}', '{operator}', (context_today() - relativedelta("
        f"{unit}={amount})).strftime('%Y-%m-%d'))]"
    )


@dataclass
class RuleSpec:
    name: str
    domain: str  # the text a marketer would save (Odoo domain, evaluated safely)
    points: float
    expire_after: int = 0
    expire_unit: str = "months"


# Rule catalogues: each builder gets the references and a variant number (0 for
# the first 20 rules, 1, 2, ... when --rules asks for more: other countries,
# tags, amounts) and returns a RuleSpec. Together they cover =, !=, in, not in,
# ilike, not ilike, =ilike, child_of, dates relative to today, numeric ranges
# and paths through many2one fields.
def _profile_rules():
    codes = [c[0] for c in COUNTRIES if c[0]]
    served = [["NL", "BE", "DE"], ["NL", "BE"], ["NL", "BE", "DE", "GB", "FR"]]
    free_mail = [["gmail.com", "hotmail.com", "outlook.com"], ["yahoo.com", "icloud.com"]]
    deciders = [["director", "ceo"], ["manager", "eigenaar"], ["cto", "cfo"]]
    customer_tags = [["Klant", "VIP"], ["Partner", "Reseller"], ["Prospect"]]

    def country(refs, v):
        code = pick(codes, v)
        domain = [("country_id", "=", refs["countries"][code])]
        return RuleSpec(f"Land is {code}", repr(domain), 20 if v == 0 else 5)

    def not_served(refs, v):
        ids = [refs["countries"][c] for c in pick(served, v)]
        return RuleSpec("Land niet bediend", repr([("country_id", "not in", ids)]), -10)

    def business_email(refs, v):
        domain = [("email", "!=", False)]
        domain += [("email", "not ilike", f"@{d}") for d in pick(free_mail, v)]
        return RuleSpec("Zakelijk e-mailadres", repr(domain), 5)

    def decision_maker(refs, v):
        words = pick(deciders, v)
        domain = ["|"] * (len(words) - 1) + [("function", "ilike", w) for w in words]
        return RuleSpec("Beslisser", repr(domain), 15)

    def company(refs, v):
        leaf = ("is_company", "=", True) if v % 2 == 0 else ("parent_id", "!=", False)
        return RuleSpec("Bedrijf", repr([leaf]), 10)

    def customer(refs, v):
        ids = [refs["partner_tags"][t] for t in pick(customer_tags, v)]
        return RuleSpec("Klant of VIP", repr([("category_id", "in", ids)]), 15)

    def key_account(refs, v):
        accounts = refs["key_accounts"]
        ids = accounts[v % len(accounts) :] if accounts else []
        return RuleSpec("Key account", repr([("id", "child_of", ids)]), 25)

    def old_contact(refs, v):
        return RuleSpec("Oud contact", older_than("create_date", "years", 3 + v), -5)

    return [
        *(country, not_served, business_email, decision_maker),
        *(company, customer, key_account, old_contact),
    ]


def _engagement_rules():
    tags = [["Nieuwsbrief"], ["Webinar"], ["Pers"]]
    events = [["Event 2024", "Event 2025"], ["Webinar"]]

    def newsletter(refs, v):
        ids = [refs["partner_tags"][t] for t in pick(tags, v)]
        return RuleSpec("Nieuwsbrief", repr([("category_id", "in", ids)]), 5)

    def event(refs, v):
        ids = [refs["partner_tags"][t] for t in pick(events, v)]
        domain = repr([("category_id", "in", ids)])
        return RuleSpec("Eventbezoeker", domain, 10, expire_after=12)

    def recent(refs, v):
        domain = older_than("create_date", "days", 90 * (v + 1), operator=">=")
        return RuleSpec("Nieuw contact", domain, 10, expire_after=3)

    def local_mail(refs, v):
        domain = [("email", "=ilike", f"%{pick(['.nl', '.be', '.de'], v)}")]
        return RuleSpec("Lokaal e-maildomein", repr(domain), 3)

    def no_email(refs, v):
        leaf = ("email", "=", False) if v % 2 == 0 else ("phone", "=", False)
        return RuleSpec("Onbereikbaar", repr([leaf]), -20)

    return [newsletter, event, recent, local_mail, no_email]


def _deal_rules():
    stage_sets = [(["Qualified", "Proposition"], 15), (["Proposition"], 20), (["New"], -5)]
    priorities = [(["2", "3"], 10), (["3"], 15), (["0"], -5)]

    def revenue_mid(refs, v):
        low, high = 10_000 * (v + 1), 50_000 * (v + 1)
        domain = [("expected_revenue", ">=", low), ("expected_revenue", "<", high)]
        return RuleSpec("Omzet middelgroot", repr(domain), 10)

    def revenue_high(refs, v):
        domain = [("expected_revenue", ">=", 50_000 * (v + 1))]
        return RuleSpec("Omzet groot", repr(domain), 25)

    def stage(refs, v):
        names, points = pick(stage_sets, v)
        ids = [refs["stages"][n] for n in names]
        return RuleSpec("Fase", repr([("stage_id", "in", ids)]), points)

    def priority(refs, v):
        values, points = pick(priorities, v)
        return RuleSpec("Prioriteit", repr([("priority", "in", values)]), points)

    def old_deal(refs, v):
        return RuleSpec("Oude deal", older_than("create_date", "months", 6 * (v + 1)), -15)

    def customer_country(refs, v):
        domain = [("partner_id.country_id.code", "=", pick(["NL", "BE", "DE"], v))]
        return RuleSpec("Klant in land", repr(domain), 5)

    def free_mail(refs, v):
        domain = [("email_from", "not ilike", pick(["gmail.com", "hotmail.com"], v))]
        return RuleSpec("Geen gratis e-mail", repr(domain), 3)

    return [*(revenue_mid, revenue_high, stage, priority), *(old_deal, customer_country, free_mail)]


def rule_plan(count):
    """``[(model key, builder, variant)]``: the models' catalogues interleaved so
    that a small --rules still covers every model, cycled with new variants
    for a large one."""
    catalogues = {
        "engagement": _engagement_rules(),
        "profile": _profile_rules(),
        "deal": _deal_rules(),
    }
    interleaved = [
        (key, builders[i])
        for i in range(max(map(len, catalogues.values())))
        for key, builders in catalogues.items()
        if i < len(builders)
    ]
    return [(*interleaved[i % len(interleaved)], i // len(interleaved)) for i in range(count)]


def create_scoring_models(bench, rules, segments=False):
    """Two contact models and one deal model with ``rules`` rules and bands.

    :param segments: add a segment, a grade and a roll-up model (``--segments``
        of bench_recompute.py)
    """
    env = bench.env
    bands = [("Koud", 0, 4), ("Warm", 20, 2), ("Heet", 50, 1)]
    specs = {
        # Engagement comes first: it gives contact_score, and Adjust score feeds it.
        "engagement": {
            "name": "Betrokkenheid",
            "target": "contact",
            "sequence": 1,
            "use_min_score": True,
            "min_score": 0.0,
            "use_max_score": True,
            "max_score": 100.0,
        },
        "profile": {"name": "Profiel", "target": "contact", "sequence": 2},
        "deal": {"name": "Dealkwaliteit", "target": "deal", "sequence": 1},
    }
    rule_values = {key: [] for key in specs}
    for sequence, (key, builder, variant) in enumerate(rule_plan(rules)):
        values = asdict(builder(bench.refs, variant))
        if variant:
            values["name"] += f" #{variant}"
        rule_values[key].append(Command.create({**values, "sequence": sequence}))
    if segments:
        add_segments_grades_rollup(specs, rule_values)
    scoring_models = env["lead.scoring.model"].create(
        [
            {
                **values,
                "rule_ids": rule_values[key],
                "band_ids": [
                    Command.create({"name": n, "min_score": s, "color": c}) for n, s, c in bands
                ],
            }
            for key, values in specs.items()
        ]
    )
    if segments:
        env["lead.scoring.grade"].create(
            {
                "model_id": scoring_models[0].id,
                "name": "C-level",
                "domain": "[('function', 'ilike', 'CEO')]",
                "multiplier": 2.0,
            }
        )
    bench.cr.commit()
    return dict(zip(specs, scoring_models, strict=True))


def add_segments_grades_rollup(specs, rule_values):
    """--segments: how marketers segment (a model per customer type, a C-level
    grade on engagement, an accounts model that rolls contacts up)."""
    specs["profile"]["domain"] = "[('is_company', '=', False)]"
    specs["accounts"] = {"name": "Accounts", "target": "contact", "sequence": 3, "rollup": "sum"}
    rule_values["accounts"] = [
        Command.create(
            {
                "name": "Reachable contact of a company",
                "domain": "[('parent_id', '!=', False), ('email', '!=', False)]",
                "points": 5.0,
            }
        )
    ]


# ----------------------------------------------------------------------------
# The --segments data set with a history (bench_preview.py, bench_insight.py)
# ----------------------------------------------------------------------------

# The Profiel threshold bench_recompute.py sets (its --threshold default).
THRESHOLD = 50.0
# How far back the cold run's ledger lines are dated ("history"): beyond
# the 30 days of a trend, so that a trend shows what changed since.
HISTORY_DAYS = 45


def build_with_history(bench):
    """The --segments data set of bench_recompute.py, its Profiel threshold,
    the cold run, and a history: the cold run's lines dated HISTORY_DAYS back.

    :return: the scoring models by key (engagement, profile, deal, accounts)
    """
    args = bench.args
    first, _last = load_dataset(
        bench, f"load {args.contacts:,} contacts + {args.deals:,} deals", args.contacts, args.deals
    )
    # Lost opportunities get the closing date crm gives them when marked lost
    # (the data set leaves it empty): the preview's ROC AUCs need won and lost.
    bench.cr.execute(
        """
        UPDATE crm_lead SET date_closed = date_last_stage_update
         WHERE type = 'opportunity' AND NOT active AND probability = 0 AND date_closed IS NULL
        """
    )
    bench.cr.commit()
    bench.refs["key_accounts"] = key_accounts(bench, first, first + min(10_000, args.contacts) - 1)
    scoring_models = create_scoring_models(bench, 20, segments=True)
    bench.env["lead.scoring.threshold"].create(
        {
            "model_id": scoring_models["profile"].id,
            "name": "Sterk profiel: deal",
            "score": THRESHOLD,
            "action": "create_deal",
            "team_id": bench.refs["team"],
        }
    )
    bench.cr.commit()
    recompute(bench, "(a) cold full recompute", analyze=False)
    # A database in use has a history: without one, every score rose from
    # nothing within the trend period. Setup, not measured as a goal.
    with bench.measure(f"history: ledger dated {HISTORY_DAYS} days back (setup)", 0) as step:
        bench.cr.execute(
            SQL(
                "UPDATE lead_scoring_point SET date = date - make_interval(days => %s)",
                HISTORY_DAYS,
            )
        )
        step.records = bench.cr.rowcount
        bench.cr.commit()
    return scoring_models
