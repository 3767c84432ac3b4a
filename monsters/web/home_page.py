"""The home page showing a monster: its template rendered once, filled in per request.

Rendering `home.html` through the template engine cost more than all the rest of a page
request together (the name's input renders a widget template of its own). Yet between
two requests the page differs in three values only: the name, the monster's hash (in
its URLs) and the CSRF token. So each process renders it once (again when a setting
changes) with a marker in place of each value, and each request puts its own values
where the markers are, the name escaped as the template escapes it (Django's `escape`):
`fill`, which the view and the fast layer for `GET /` (`fast_page`) both call.

The form with an error (400) has a different shape and is rendered by the template as
before. A test renders the template for real and checks that the two pages are equal.
"""

from __future__ import annotations

import re

from django.template.loader import render_to_string
from django.utils.html import escape

from monsters.images import links
from monsters.per_settings import per_settings
from monsters.web.forms import NameForm

TEMPLATE = "monsters/home.html"
PAGE_SIZE = 80
# Markers survive rendering unchanged: letters and digits only, none escaped, and the
# hash marker is a valid hash, which the URL patterns accept. Nothing else on the page
# can contain them.
NAME_MARK = "IdentidockNameMarker7c1e"
HASH_MARK = "0c" * 32
TOKEN_MARK = "IdentidockCsrfTokenMarker7c1e"  # noqa: S105 - a marker, not a secret
_MARKS = re.compile(f"({NAME_MARK}|{HASH_MARK}|{TOKEN_MARK})")


def context(form: NameForm, name_hash: str) -> dict[str, object]:
    """What the template shows for a valid `form` whose name hashes to `name_hash`."""
    return {
        "form": form,
        "monster_url": links.monster_url(name_hash, PAGE_SIZE),
        "monster_url_2x": links.monster_url(name_hash, PAGE_SIZE * 2),
        "permalink_url": links.permalink_url(name_hash),
        "size": PAGE_SIZE,
    }


def fill(*, name: str, name_hash: str, csrf_token: str) -> str:
    """The page for a valid `name` (already stripped) that hashes to `name_hash`, with
    the request's CSRF token (`get_token`'s, which also has its cookie set). Both the
    view and the fast layer in front of Django (`fast_page`) make the page here."""
    values = {NAME_MARK: escape(name), HASH_MARK: name_hash, TOKEN_MARK: csrf_token}
    pieces = _pieces()
    # Text at even positions, markers at odd ones (re.split keeps the captured marks).
    return "".join(piece if at % 2 == 0 else values[piece] for at, piece in enumerate(pieces))


@per_settings
def _pieces() -> list[str]:
    form = NameForm({"name": NAME_MARK})
    if not form.is_valid():
        raise AssertionError(f"the name marker is not a valid name: {form.errors}")
    page = render_to_string(TEMPLATE, {**context(form, HASH_MARK), "csrf_token": TOKEN_MARK})
    return _MARKS.split(page)
