"""The home page: the form, and the monster of the name it was given.

Rendered by Django's template engine on every request, with its cached template
loader (the default): the page is small, and the engine is Django's own path for it.
"""

from __future__ import annotations

from monsters.images import links
from monsters.web.forms import NameForm

TEMPLATE = "monsters/home.html"
PAGE_SIZE = 80


def context(form: NameForm, name_hash: str) -> dict[str, object]:
    """What the template shows for a valid `form` whose name hashes to `name_hash`."""
    return {
        "form": form,
        "monster_url": links.monster_url(name_hash, PAGE_SIZE),
        "monster_url_2x": links.monster_url(name_hash, PAGE_SIZE * 2),
        "permalink_url": links.permalink_url(name_hash),
        "size": PAGE_SIZE,
    }
