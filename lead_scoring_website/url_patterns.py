"""Page paths and URL patterns, in plain Python (no Odoo).

A marketer writes a pattern the SQL LIKE way (``/shop/%``, ``/blog/%``) for
the page's path as the visitor sees it in every language: Odoo's tracked URL
is a full one (``https://host/fr_BE/shop/chair?page=2``), so the scheme, host,
query string, fragment and a language prefix are left out before matching.
"""

import functools
import re
from urllib.parse import urlsplit


def page_path(url, lang_url_codes=()):
    """The path of ``url`` without its language prefix.

    :param lang_url_codes: the URL codes of the website languages (``fr_BE``,
        ``nl``): a first path segment among them is a language, not a page
    """
    path = urlsplit(url or "").path or "/"
    head, _slash, rest = path[1:].partition("/")
    if head and head in lang_url_codes:
        path = "/" + rest
    return path


@functools.lru_cache(maxsize=256)
def like_regex(pattern):
    """The regular expression of SQL LIKE ``pattern``: ``%`` any text, ``_``
    one character, a backslash makes the next character literal."""
    parts = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            parts.append(re.escape(next(chars, "\\")))
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def path_matches(pattern, path):
    return bool(like_regex(pattern).fullmatch(path))


def url_prefilter(pattern):
    """A LIKE pattern that every full URL of a matching page matches (more URLs
    match it: the database narrows down, :func:`path_matches` decides)."""
    return f"%{pattern}%"
