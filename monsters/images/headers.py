"""The headers of an image answer: one set of rules for every layer that serves
images (the Django views and the thin layer in front of Django), by way of
`answer.answer()`.

The format decides the Content-Type. An SVG is a document that could carry script (ours
never does), so every SVG answer also carries a policy of its own that lets it load and
run nothing, `Content-Security-Policy: default-src 'none'`, whichever layer answers and
whoever opens it; PNG and WebP run nothing and need none.

A response is `immutable` only at a URL whose bytes can never change: one that names
the art's revision (`v=`). Without `v`, the bytes follow the art, so the answer is
fresh for `MONSTER_MAX_AGE` seconds and then revalidated by its ETag (a cheap 304).

Every answer also carries what Django's SecurityMiddleware and XFrameOptionsMiddleware
add to a response, worked out by those middlewares themselves, once per settings: they
leave headers that are already set alone, so a response through Django gets the same
list, in the same order, as one from the layer in front of it.
"""

from __future__ import annotations

import io
from typing import NamedTuple

from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from django.utils.http import parse_etags

from monsters.images import formats
from monsters.images.keys import Address
from monsters.per_settings import per_settings

CONTENT_TYPES = {
    formats.PNG: "image/png",
    formats.SVG: "image/svg+xml",
    formats.WEBP: "image/webp",
}
TEXT = "text/plain; charset=utf-8"
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
    address: Address,
    image: bytes | None,
    *,
    cache_status: str = "",
    versioned: bool,
    shared: bool = True,
    cors: bool = False,
    secure: bool = False,
) -> Headers:
    """Every header of a 200 (`image` given) or a 304 (`image` None) for `address`, in
    order. `cache_status` is the service's HIT, MISS or BYPASS; `cors` lets any site's
    script read the image (avatars, drawn on a canvas).

    A 304 repeats the 200's validators and caching headers (RFC 9110, 15.4.5), and an
    SVG's policy, which a cache updates along with them."""
    policy = _fixed_headers(
        address.fmt, versioned=versioned, shared=shared, cors=cors, secure=secure
    )
    if image is None:
        return [("ETag", address.etag), *policy.not_modified]
    return [
        ("Content-Type", CONTENT_TYPES[address.fmt]),
        ("Content-Length", str(len(image))),
        ("X-Cache", cache_status),
        ("ETag", address.etag),
        *policy.ok,
    ]


def refusal_headers(body: bytes, *, secure: bool, cors: bool = False) -> Headers:
    """The headers of a one-line text refusal of an image request (a bad size, a format
    the renderer cannot give, a body, an avatar's `d=404`): kept by nobody, since a
    deploy can change it."""
    return [
        ("Content-Type", TEXT),
        ("Content-Length", str(len(body))),
        ("Cache-Control", FAILURE_CACHE_CONTROL),
        *_cors(cors),
        *django_headers(secure),
    ]


def redirect_headers(location: str, *, secure: bool, cors: bool = False) -> Headers:
    """The headers of a redirect from an old revision to the current one (or from an
    avatar to its allowed `d=` URL)."""
    return [
        ("Location", location),
        ("Content-Length", "0"),
        ("Cache-Control", REDIRECT_CACHE_CONTROL),
        *_cors(cors),
        *django_headers(secure),
    ]


def _cors(cors: bool) -> Headers:
    # No credentials are ever read: any origin may read the image, as Gravatar's.
    return [("Access-Control-Allow-Origin", "*")] if cors else []


class _Fixed(NamedTuple):
    """The headers after the ETag that follow from the settings and the kind of answer
    alone: the same for every image of a format."""

    ok: Headers
    not_modified: Headers


@per_settings
def _fixed_headers(fmt: str, *, versioned: bool, shared: bool, cors: bool, secure: bool) -> _Fixed:
    caching = [
        ("Cache-Control", cache_control(versioned=versioned, shared=shared)),
        # Identicons are made to be embedded: on any site, in any browser.
        ("Cross-Origin-Resource-Policy", "cross-origin"),
        *_cors(cors),
        *_content_policy(fmt),
    ]
    return _Fixed(
        ok=[*caching, *django_headers(secure)],
        not_modified=[*caching, ("Content-Length", "0"), *django_headers(secure)],
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


@per_settings
def django_headers(secure: bool) -> Headers:
    """What Django's SecurityMiddleware and XFrameOptionsMiddleware add to a response
    over HTTPS (`secure`) or plain HTTP: their own code, run on an empty response."""
    request = WSGIRequest(
        {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "443" if secure else "80",
            "wsgi.url_scheme": "https" if secure else "http",
            "wsgi.input": io.BytesIO(),
        }
    )
    response = HttpResponse()
    given = set(response.headers)
    for middleware in (SecurityMiddleware, XFrameOptionsMiddleware):
        middleware(lambda _: response).process_response(request, response)
    return [(name, value) for name, value in response.items() if name not in given]
