"""The headers of an image answer: one set of rules for every layer that serves
monsters (the Django view, the staff thumbnails, and the fast layer in front of Django).

The format decides the Content-Type. An SVG is a document that could carry script (ours
never does), so every SVG answer also carries a policy of its own that lets it load and
run nothing, `Content-Security-Policy: default-src 'none'`, whichever layer answers and
whoever opens it; PNG and WebP run nothing and need none.

A response is `immutable` only at a URL whose bytes can never change: one that names
the art's revision (`v=`). Without `v`, the bytes follow the art, so the answer is
fresh for `MONSTER_MAX_AGE` seconds and then revalidated by its ETag (a cheap 304).

Both layers send exactly the lists built here, in this order, security headers
included (the ones Django's SecurityMiddleware and XFrameOptionsMiddleware would add,
which leave headers that are already set alone), so a client cannot tell which layer
answered.
"""

from __future__ import annotations

from typing import NamedTuple

from django.conf import settings
from django.utils.http import parse_etags

from . import formats
from .per_settings import per_settings
from .service import MonsterRef

CONTENT_TYPES = {
    formats.PNG: "image/png",
    formats.SVG: "image/svg+xml",
    formats.WEBP: "image/webp",
}
# Our SVGs are rectangles in presentation attributes: no script, style, font or link.
SVG_CONTENT_SECURITY_POLICY = "default-src 'none'"

ONE_YEAR = 365 * 24 * 60 * 60
# A redirect from an old revision is not stored: after a rollback the old revision is
# current again, and a stored redirect would then point the wrong way.
REDIRECT_CACHE_CONTROL = "no-cache"
FAILURE_CACHE_CONTROL = "no-store"

Headers = list[tuple[str, str]]


@per_settings
def cache_control(*, versioned: bool, shared: bool = True) -> str:
    """`shared` answers may be kept by CDNs and proxies; staff-only ones only by the
    browser."""
    scope = "public" if shared else "private"
    if versioned:
        return f"{scope}, max-age={ONE_YEAR}, immutable"
    return f"{scope}, max-age={settings.MONSTER_MAX_AGE}"


def image_headers(
    ref: MonsterRef,
    *,
    image: bytes | None,
    cache_status: str,
    versioned: bool,
    shared: bool = True,
    secure: bool = False,
) -> Headers:
    """Every header of a 200 (`image` given) or a 304 (`image` None) for `ref`, in order.
    `cache_status` is the service's HIT, MISS or BYPASS.

    A 304 repeats the 200's validators and caching headers (RFC 9110, 15.4.5), and an
    SVG's policy, which a cache updates along with them."""
    policy = _fixed_headers(ref.fmt, versioned=versioned, shared=shared, secure=secure)
    if image is None:
        return [("ETag", ref.etag), *policy.not_modified]
    return [
        ("Content-Type", CONTENT_TYPES[ref.fmt]),
        ("Content-Length", str(len(image))),
        ("X-Cache", cache_status),
        ("ETag", ref.etag),
        *policy.ok,
    ]


class _Fixed(NamedTuple):
    """The headers after the ETag that follow from the settings and the kind of answer
    alone: the same for every image of a format."""

    ok: Headers
    not_modified: Headers


@per_settings
def _fixed_headers(fmt: str, *, versioned: bool, shared: bool, secure: bool) -> _Fixed:
    caching = [
        ("Cache-Control", cache_control(versioned=versioned, shared=shared)),
        # Identicons are made to be embedded: on any site, in any browser.
        ("Cross-Origin-Resource-Policy", "cross-origin"),
        *_content_policy(fmt),
    ]
    return _Fixed(
        ok=[*caching, *_frame_options(), *_security(secure)],
        not_modified=[*caching, *_frame_options(), ("Content-Length", "0"), *_security(secure)],
    )


def client_has(if_none_match: str, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (weakly compared, as for GET)."""
    if not if_none_match:
        return False  # most requests: nothing to parse
    if if_none_match == etag:
        return True  # a browser revalidating sends back the one tag it was given
    wanted = parse_etags(if_none_match)
    return "*" in wanted or any(tag.removeprefix("W/") == etag for tag in wanted)


def _content_policy(fmt: str) -> Headers:
    if fmt == formats.SVG:
        return [("Content-Security-Policy", SVG_CONTENT_SECURITY_POLICY)]
    return []


def _frame_options() -> Headers:
    return [("X-Frame-Options", settings.X_FRAME_OPTIONS.upper())]


def _security(secure: bool) -> Headers:
    """What SecurityMiddleware adds to a response, by the same settings."""
    headers: Headers = []
    if settings.SECURE_HSTS_SECONDS and secure:
        hsts = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            hsts += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            hsts += "; preload"
        headers.append(("Strict-Transport-Security", hsts))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    if policy := settings.SECURE_REFERRER_POLICY:
        values = policy.split(",") if isinstance(policy, str) else policy
        headers.append(("Referrer-Policy", ",".join(value.strip() for value in values)))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    return headers
