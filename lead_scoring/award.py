"""The arithmetic of the one award path, in plain Python (no Odoo, no database).

An award is one reason to give a record the points of one "Adjust score"
action: an Automation Rule's run, a line of the Automations tab fired by code,
an event of the API, a page view, a mailing open. Every source builds awards
and hands them to ``ir.actions.server._lead_scoring_award``, which applies the
company and segment gates, reads the ledger once (``History`` per record) and
lets ``judge`` decide each award of the batch, oldest first:

- expiry counted from the award's date: one already expired adds nothing;
- cooldown around the award's own date: refused when the record has a line of
  the action, or an award accepted earlier in the batch, less than ``cooldown``
  hours before or after it;
- the cap on the live points the record holds from the action (the ledger's
  plus those of the awards accepted earlier in the batch).

Unit-tested without a database by ``tests/test_award_path.py`` (``TestAwardMath``).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .expiry import expire_date_from

# Why an award got no line (the events API words each one for its user).
INACTIVE = "inactive"  # the scoring model is archived or a draft
COMPANY = "company"
SEGMENT = "segment"
EXPIRED = "expired"
COOLDOWN = "cooldown"
CAP = "cap"
REFUSALS = (INACTIVE, COMPANY, SEGMENT, EXPIRED, COOLDOWN, CAP)


@dataclass
class Award:
    """One award asked for, and what became of it.

    :param target_id: the scored record (contact, deal, ...)
    :param date: when it was earned (the line's date, the start of its expiry)
    :param reason: the ledger line's reason
    :param key: the caller's handle on it (a triggering record, an event)
    """

    target_id: int
    date: datetime
    reason: str
    key: object = None
    points: float = 0.0  # points written (graded), once accepted
    refusal: str | None = None  # one of REFUSALS when refused
    expire_date: datetime | None = None


@dataclass
class History:
    """What the ledger says of one record and one action: the dates of its
    lines around the batch's dates, and the live points it holds."""

    dates: list = field(default_factory=list)
    held: float = 0.0


@dataclass(frozen=True)
class Policy:
    """What an "Adjust score" action gives and how often."""

    points: float
    cooldown_hours: float = 0.0
    cap: float = 0.0
    expire_after: int = 0
    expire_unit: str = "months"

    @property
    def reads_ledger(self):
        """Whether judging needs the record's history (cooldown or cap)."""
        return bool(self.cooldown_hours or self.cap)

    @property
    def cooldown(self):
        return timedelta(hours=self.cooldown_hours)

    def expire_date(self, date):
        """Expiry of points earned at ``date`` (None: they never expire)."""
        return expire_date_from(date, self.expire_after, self.expire_unit) or None

    def capped(self, held):
        """The action's points, cut so that a record holds at most the cap."""
        points = self.points
        if self.cap and points > 0:
            points = max(0.0, min(points, self.cap - held))
        return points

    def window(self, awards):
        """``(start, end)``: the ledger dates that can put ``awards`` in cooldown."""
        dates = [award.date for award in awards]
        return min(dates) - self.cooldown, max(dates) + self.cooldown


def judge(awards, histories, policy, now):
    """Decide each award, oldest first, counting the ledger and the awards
    accepted earlier in the batch. Sets ``points`` (before grading) or
    ``refusal`` on each award (the gates' refusals are kept).

    :param histories: ``{target_id: History}`` read from the ledger (records
        absent have none); updated with the accepted awards
    :return: the accepted awards, in date order
    """
    accepted = []
    for award in sorted(awards, key=lambda award: award.date):
        if award.refusal:
            continue
        award.expire_date = policy.expire_date(award.date)
        if award.expire_date and award.expire_date <= now:
            award.refusal = EXPIRED
            continue
        history = histories.setdefault(award.target_id, History())
        if policy.cooldown_hours and any(
            abs(award.date - other) < policy.cooldown for other in history.dates
        ):
            award.refusal = COOLDOWN
            continue
        award.points = policy.capped(history.held)
        if not award.points:
            award.refusal = CAP
            continue
        history.dates.append(award.date)
        history.held += award.points
        accepted.append(award)
    return accepted
