"""The caching headers of an image answer: one set of rules for every layer that
serves monsters (the public view, the staff thumbnails, and any layer in front).

A response is `immutable` only at a URL whose bytes can never change: one that names
the art's revision (`v=`). Without `v`, the bytes follow the art, so the answer is
fresh for `MONSTER_MAX_AGE` seconds and then revalidated by its ETag (a cheap 304).
"""

from __future__ import annotations

from django.conf import settings

from .service import MonsterRef

ONE_YEAR = 365 * 24 * 60 * 60
# A redirect from an old revision is not stored: after a rollback the old revision is
# current again, and a stored redirect would then point the wrong way.
REDIRECT_CACHE_CONTROL = "no-cache"
FAILURE_CACHE_CONTROL = "no-store"


def cache_control(*, versioned: bool, shared: bool = True) -> str:
    """`shared` answers may be kept by CDNs and proxies; staff-only ones only by the
    browser."""
    scope = "public" if shared else "private"
    if versioned:
        return f"{scope}, max-age={ONE_YEAR}, immutable"
    return f"{scope}, max-age={settings.MONSTER_MAX_AGE}"


def image_headers(ref: MonsterRef, *, versioned: bool, shared: bool = True) -> dict[str, str]:
    """The headers a 200 or a 304 for `ref` carries (a 304 repeats them, RFC 9110)."""
    return {"ETag": ref.etag, "Cache-Control": cache_control(versioned=versioned, shared=shared)}
