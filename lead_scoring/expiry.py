"""How long points live: the units a marketer picks and the expiry date they
give. Shared by rules, automation lines, the award path and manual lines."""

from dateutil.relativedelta import relativedelta

EXPIRE_UNITS = [("days", "Days"), ("weeks", "Weeks"), ("months", "Months")]


def expire_date_from(date, amount, unit):
    """Expiry of a line dated ``date`` that lives ``amount`` ``unit`` (0 = never).

    Months are calendar months (relativedelta): 31 January + 1 month = 28/29 February.
    """
    if not amount:
        return False
    return date + relativedelta(**{unit or "months": amount})
