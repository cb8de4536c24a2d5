"""Reading the events API's request body and checking its text members.

Plain Python, no Odoo: unit-tested by ``TestApiPayload``
(``tests/test_events_api_hostile.py``). Hostile input must end as a clear
answer, never as an exception: a body too large or nested too deep is refused
before ``json`` recurses into it, numbers too long for Python's int conversion
stay numbers, and text that PostgreSQL (NUL) or UTF-8 (lone surrogates) cannot
store is found before it reaches either.
"""

import json
import math
import re

# Largest body read: 1,000 events of every member at its longest, escaped.
MAX_BODY_BYTES = 4 * 1024 * 1024
# Deepest nesting of arrays and objects: a valid body needs 3.
MAX_DEPTH = 32
# Digits of an integer kept as an int; longer ones become a float (Python
# refuses to convert more than 4,300 digits, and no record id is that long).
MAX_INT_DIGITS = 40

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
# Control characters (NUL among them) and lone surrogates; tabs and line
# breaks are allowed where a text may span lines (a reason, a name).
_FORBIDDEN_LINE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_FORBIDDEN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")


class BodyError(ValueError):
    """Why a body is refused as a whole: ``reason`` is ``too_large``,
    ``encoding``, ``json`` or ``too_deep``; ``detail`` what to say about it."""

    def __init__(self, reason, detail=None):
        super().__init__(reason, detail)
        self.reason, self.detail = reason, detail


def too_deep(text, limit=MAX_DEPTH):
    """Whether the JSON ``text`` nests arrays and objects deeper than ``limit``
    (brackets inside strings do not count), found without recursion."""
    depth = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            return True
    return False


def _parse_int(digits):
    return int(digits) if len(digits.lstrip("-")) <= MAX_INT_DIGITS else float(digits)


def check_size(size):
    """Refuse a body whose announced size (Content-Length, None when not
    announced) is over the limit, before reading it.

    :raise BodyError: when it is too large
    """
    if (size or 0) > MAX_BODY_BYTES:
        raise BodyError("too_large", MAX_BODY_BYTES)


def parse_body(data):
    """The JSON value of a request body (bytes).

    :raise BodyError: when the body is too large, not UTF-8, not JSON or too deep
    """
    check_size(len(data))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BodyError("encoding") from error
    if too_deep(text):
        raise BodyError("too_deep", MAX_DEPTH)
    try:
        return json.loads(text, parse_int=_parse_int)
    except RecursionError as error:  # a deeper stack than ours allows, all the same
        raise BodyError("too_deep", MAX_DEPTH) from error
    except ValueError as error:
        raise BodyError("json", str(error)) from error


def forbidden_character(text, multiline=False):
    """The first character of ``text`` that cannot be stored as is (a control
    character, NUL included, or a lone surrogate), as ``U+XXXX``, or None."""
    match = (_FORBIDDEN_TEXT if multiline else _FORBIDDEN_LINE).search(text)
    return match and f"U+{ord(match[0]):04X}"


def echo(value):
    """``value`` made safe to send back in a JSON answer encoded in UTF-8:
    lone surrogates replaced, numbers that JSON cannot carry dropped."""
    if isinstance(value, str):
        return _SURROGATES.sub("\ufffd", value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bool | int | float) or value is None:
        return value
    return None
