"""What an avatar's `d=` (or `default=`) names: a style, "no avatar", or a URL.

Identidock has no uploaded avatars, so every answer is a default. Gravatar's keywords
map to the nearest style Identidock draws (docs/avatars.md keeps this table):

    404                 404: how clients learn "no custom avatar"
    mp, mm              mp        the mystery-person silhouette, one image for everyone
    identicon           identicon
    monsterid           monster
    retro               retro
    wavatar             monster   Wavatar's are cartoon faces: the monster is nearest
    robohash            retro     RoboHash's robots: the 8-bit character is nearest
    blank               blank     transparent
    an allowed URL      302 to it (hosts in AVATAR_DEFAULT_URL_HOSTS only)
    none, or any other  AVATAR_DEFAULT_STYLE (the monster)

A style the renderer does not register (yet) is drawn as the monster: a Gravatar
client never gets an error for a default it may ask for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.http import url_has_allowed_host_and_scheme

from monsters.images import styles

NOT_FOUND = "404"
KEYWORDS = {
    "mp": "mp",
    "mm": "mp",
    "identicon": "identicon",
    "monsterid": styles.MONSTER,
    "retro": "retro",
    "wavatar": styles.MONSTER,
    "robohash": "retro",
    "blank": "blank",
}
MAX_URL_LENGTH = 2048
# Printable ASCII without a backslash (which browsers read as a slash) or a space: a URL
# with anything else is not redirected to, whatever its host.
_PLAIN_URL = re.compile(r"[\x21-\x5b\x5d-\x7e]{1,2048}")


@dataclass(frozen=True)
class RedirectTo:
    url: str


def default_style() -> str:
    """AVATAR_DEFAULT_STYLE, or the monster while the renderer does not draw it."""
    return drawn_style(settings.AVATAR_DEFAULT_STYLE)


def drawn_style(style: str) -> str:
    return style if styles.is_registered(style) else styles.MONSTER


def choose(default: str | None) -> str | RedirectTo | None:
    """The style `default` names, a redirect, or None for `d=404`."""
    if not default:
        return default_style()
    keyword = default.lower()
    if keyword == NOT_FOUND:
        return None
    if keyword in KEYWORDS:
        return drawn_style(KEYWORDS[keyword])
    if allowed_url(default):
        return RedirectTo(default)
    return default_style()  # junk, or a URL to a host not allowed: as if no `d`


def allowed_url(url: str) -> bool:
    """Whether `url` is an absolute http(s) URL to a host in AVATAR_DEFAULT_URL_HOSTS,
    with no user part (`http://allowed.example@evil` goes to `evil`): never an open
    redirect."""
    if not _PLAIN_URL.fullmatch(url):
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # a malformed port or IPv6 address
        return False
    if parts.scheme not in ("http", "https") or not host or "@" in parts.netloc:
        return False
    hosts = {allowed.lower() for allowed in settings.AVATAR_DEFAULT_URL_HOSTS}
    # Django's own check as a second opinion (schemes, slashes, control characters).
    return host.lower() in hosts and url_has_allowed_host_and_scheme(
        url, allowed_hosts={parts.netloc}, require_https=False
    )
