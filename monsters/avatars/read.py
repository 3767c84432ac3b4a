"""An avatar URL -> an image request: Gravatar's parameters, as its clients send them.

    /avatar/<md5 or sha256>[.png|.jpg|.jpeg|.webp|.svg][/]?s=80&d=identicon&r=g&f=y

Short and long names alike (`s`/`size`, `d`/`default`, `f`/`forcedefault`,
`r`/`rating`); anything else (Discourse's `reset_cache`, a `v`) is ignored. `f` and `r`
change nothing: every answer here is a default, and every default is fit for G.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.http import QueryDict

import renderer
from monsters.avatars import defaults
from monsters.avatars.keyed_id import keyed_id
from monsters.images import asked, formats
from monsters.per_settings import per_settings

PATH = re.compile(r"/avatar/([0-9A-Fa-f]{32}|[0-9A-Fa-f]{64})(?:\.(png|jpg|jpeg|webp|svg))?/?")
# A JPEG is asked for by django-gravatar2 and others that only need an image: it is
# answered as PNG, with Content-Type image/png (every browser and client takes it).
_FORMATS = {"jpg": formats.PNG, "jpeg": formats.PNG}
DEFAULT_SIZE = 80
# What Gravatar accepts: within it no request is refused.
MIN_SIZE, MAX_SIZE = 1, 2048


def read(match: re.Match[str], query_string: str) -> asked.Ask | asked.NotFound | asked.Redirect:
    """The image an avatar URL asks for (drawn from the keyed id, never the received
    hash), `NotFound` for `d=404`, `Redirect` for an allowed URL default; `Refused` for
    a size outside 1..2048."""
    return _read(match[1], match[2], query_string)


# An avatar is asked for again and again by the same URL (every page that shows its
# user): what it asks for follows from the URL and the settings alone, so the most
# recent answers are kept, in this process only (a bounded LRU; a client picks URLs).
@per_settings(maxsize=4096)
def _read(
    received_hash: str, extension: str | None, query_string: str
) -> asked.Ask | asked.NotFound | asked.Redirect:
    extension = extension.lower() if extension else None
    fmt = _FORMATS.get(extension or "", extension or formats.DEFAULT)
    # As WSGIRequest.GET decodes it: WSGI gives the query as bytes in latin-1.
    query = QueryDict(query_string.encode("iso-8859-1"), encoding=settings.DEFAULT_CHARSET)
    size = drawn_size(_first(query, "s", "size"))
    chosen = defaults.choose(_first(query, "d", "default"))
    if chosen is None:
        return asked.NotFound("No avatar here for this hash (d=404).")
    if isinstance(chosen, defaults.RedirectTo):
        return asked.Redirect(chosen.url)
    return asked.Ask(name_hash=keyed_id(received_hash), size=size, fmt=fmt, style=chosen)


def drawn_size(value: str | None) -> int:
    """The size an avatar is drawn at: the one asked for, within what the renderer draws
    (8..1024 px); below it the smallest, above it the largest (never a huge render on
    demand). Refused outside Gravatar's 1..2048."""
    if not value:
        return DEFAULT_SIZE
    if not value.isascii() or not value.isdigit() or len(value) > 4:
        raise asked.Refused(f"s must be a whole number from {MIN_SIZE} to {MAX_SIZE}")
    size = int(value)
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise asked.Refused(f"s must be from {MIN_SIZE} to {MAX_SIZE}, not {size}")
    return min(max(size, renderer.MIN_SIZE), renderer.MAX_SIZE)


def _first(query: QueryDict, short: str, long: str) -> str | None:
    """The short name's value, else the long one's (Gravatar reads `s` before `size`)."""
    value = query.get(short)
    return value if value is not None else query.get(long)
