"""A thin WSGI layer in front of Django that answers image hits and revalidations.

The way whitenoise wraps the WSGI application to serve static files, `FastImages`
looks at `GET|HEAD /monster/<hash>[.png|.svg|.webp]` before Django does and answers
what needs nothing but the cache: a 304 when the client already has the current ETag
(no cache read at all), and a 200 when the image is cached. It applies the view's own
rules (the same URL pattern, `sizes.parse_size`, `service.require_format`,
`service.locate` and `service.cached_image`) and sends the view's own headers
(`image_headers`), so no client can tell which layer answered.

Everything else goes to Django unchanged: misses (marked, so the view does not read
the cache again), redirects from an old `v`, bad sizes, formats the renderer cannot
give (the view's 406), disallowed hosts, other methods, every other path.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.conf import settings
from django.http import QueryDict

from . import cache, formats, identity, image_headers, request_site, service, sizes, sources
from .front_layer import Answer, FrontLayer

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

# The environ key by which a miss is handed to the view: the cache key just missed.
MISSED_KEY = "identidock.cache_missed"
_MONSTER_PATH = re.compile(rf"/monster/({identity.NAME_HASH_PATTERN}){formats.EXTENSION_PATTERN}")
OK, NOT_MODIFIED = "200 OK", "304 Not Modified"
# The query strings our own links carry: nothing to decode, each name once. Any other
# query is read by Django's QueryDict, exactly as the view reads it.
_PLAIN_QUERY = re.compile(r"size=([0-9]{1,4})(?:&v=([A-Za-z0-9._-]{1,64}))?")


class FastImages(FrontLayer):
    """Wraps a WSGI application; answers image hits itself, passes the rest on."""

    def answer(self, environ: WSGIEnvironment) -> Answer | None:
        return _answer(environ)


def _answer(environ: WSGIEnvironment) -> Answer | None:
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return None
    match = _MONSTER_PATH.fullmatch(environ.get("PATH_INFO", ""))
    if match is None:
        return None
    secure = request_site.served_securely(environ)
    if secure is request_site.NOT_OURS:
        return None  # Django answers a host it does not serve (400), or redirects to HTTPS
    try:
        size, revision = _size_and_revision(environ.get("QUERY_STRING", ""))
    except ValueError:
        return None  # the view says why
    fmt = match[2] or formats.DEFAULT
    if fmt != formats.DEFAULT:
        try:
            service.require_format(fmt)
        except sources.FormatUnavailable:
            return None  # the view says why
    ref = service.locate(name_hash=match[1], size=size, fmt=fmt)
    if revision is not None and revision != ref.revision:
        return None  # the view redirects to the current revision
    answer = {"versioned": revision is not None, "shared": True, "secure": secure}
    if image_headers.client_has(environ.get("HTTP_IF_NONE_MATCH", ""), ref.etag):
        return (
            NOT_MODIFIED,
            image_headers.image_headers(ref, image=None, cache_status="", **answer),
            b"",
        )
    try:
        image = service.cached_image(ref)
    except cache.CacheUnavailable:
        return None  # the view serves it without the cache (BYPASS)
    if image is None:
        environ[MISSED_KEY] = ref.key
        return None
    headers = image_headers.image_headers(ref, image=image, cache_status=service.HIT, **answer)
    return OK, headers, image


def _size_and_revision(query_string: str) -> tuple[int, str | None]:
    """The size (ValueError when bad) and the `v` a query asks for, as the view reads
    them: the plain form our links use at once, any other through QueryDict."""
    if plain := _PLAIN_QUERY.fullmatch(query_string):
        return sizes.parse_size(plain[1]), plain[2]
    # As WSGIRequest.GET decodes it: WSGI gives the query as bytes in latin-1.
    query = QueryDict(query_string.encode("iso-8859-1"), encoding=settings.DEFAULT_CHARSET)
    return sizes.parse_size(query.get("size")), query.get("v")
