"""The one function that answers an image request, whichever layer asks.

`answer()` takes what an image request is (its path, query, If-None-Match, whether it
came over HTTPS and whether it carries a body) and gives back either the whole answer,
a `Reply`, or `RenderNeeded` when the image must be drawn. The thin layer in front of
Django (`front.FastImages`) sends a `Reply` itself and hands everything else to Django;
the views call the same function and send the same `Reply`, so a client cannot tell
which layer answered, hit or miss, body or none.

What only the view does follows `RenderNeeded`: the rate limit, the render, and mapping
a renderer's failure to a status code (`monsters.web.views`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Self

from django.conf import settings
from django.http import QueryDict

from monsters.guards import cache, sources
from monsters.images import formats, headers, identity, keys, links, service, sizes

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

# Where a request the front layer could not finish hands its `RenderNeeded` to the view,
# so that a miss reads the cache once, not twice.
_HANDED_ON = "identidock.render_needed"
# The query strings our own links carry: nothing to decode, each name once. Any other
# query is read by Django's QueryDict, exactly as a view reads `request.GET`.
_PLAIN_QUERY = re.compile(r"size=([0-9]{1,4})(?:&v=([A-Za-z0-9._-]{1,64}))?")


@dataclass(frozen=True)
class Route:
    """An image route: its path (group 1 the hash, group 2 the format, if any), whether
    its answers may be kept by shared caches, and its URL of the current art."""

    path: re.Pattern[str]
    shared: bool
    current_url: Callable[[str, int, str | None], str]


PUBLIC = Route(
    path=re.compile(rf"/monster/({identity.NAME_HASH_PATTERN}){formats.EXTENSION_PATTERN}"),
    shared=True,
    current_url=lambda name_hash, size, extension: links.monster_url(
        name_hash, size, extension=extension
    ),
)
STAFF = Route(
    path=re.compile(rf"/admin/monsters/generation/monster/({identity.NAME_HASH_PATTERN})()"),
    shared=False,  # staff-only thumbnails: kept by the browser alone
    current_url=lambda name_hash, size, _: links.staff_monster_url(name_hash, size),
)


@dataclass(frozen=True)
class ImageRequest:
    """What decides an image answer, read from a WSGI environ by either layer."""

    path: str
    query: str
    if_none_match: str
    secure: bool
    has_body: bool
    head: bool

    @classmethod
    def from_environ(cls, environ: WSGIEnvironment | dict[str, Any], *, secure: bool) -> Self:
        length = environ.get("CONTENT_LENGTH") or "0"
        return cls(
            path=environ.get("PATH_INFO", ""),
            query=environ.get("QUERY_STRING", ""),
            if_none_match=environ.get("HTTP_IF_NONE_MATCH", ""),
            secure=secure,
            has_body=length != "0" or "HTTP_TRANSFER_ENCODING" in environ,
            head=environ.get("REQUEST_METHOD") == "HEAD",
        )


@dataclass(frozen=True)
class Reply:
    """A whole answer: status, every header in order, and the body (none for HEAD)."""

    status: int
    headers: headers.Headers
    body: bytes

    @property
    def status_line(self) -> str:
        return f"{self.status} {HTTPStatus(self.status).phrase}"


@dataclass(frozen=True)
class RenderNeeded:
    """The image is not cached (`cache_checked`), or the cache could not be asked: it
    must be drawn, within the client's rate limit."""

    address: keys.Address
    versioned: bool
    secure: bool
    shared: bool
    head: bool
    cache_checked: bool

    def reply(self, picture: service.Picture) -> Reply:
        """The 200 for the image drawn (or found by a render that waited for another)."""
        return _image_reply(
            self.address,
            picture.image,
            cache_status=picture.cache_status,
            versioned=self.versioned,
            shared=self.shared,
            secure=self.secure,
            head=self.head,
        )


def answer(request: ImageRequest, route: Route = PUBLIC) -> Reply | RenderNeeded | None:
    """The answer to an image request on `route`, `RenderNeeded`, or None when the path
    is not one of the route's images."""
    match = route.path.fullmatch(request.path)
    if match is None:
        return None
    name_hash, extension = match[1], match[2] or None
    if request.has_body:
        return _refusal("An image request takes no body.", HTTPStatus.BAD_REQUEST, request)
    try:
        size, revision = _size_and_revision(request.query)
    except ValueError as exc:
        return _refusal(str(exc), HTTPStatus.BAD_REQUEST, request)
    fmt = extension or formats.DEFAULT
    try:
        service.require_format(fmt)  # before a redirect, a 304 or a rate-limit token
    except sources.FormatUnavailable as exc:
        return _refusal(str(exc), HTTPStatus.NOT_ACCEPTABLE, request)

    address = keys.locate(name_hash=name_hash, size=size, fmt=fmt)
    if revision is not None and revision != address.revision:
        return _moved(route.current_url(name_hash, size, extension), request)
    versioned = revision is not None
    kind = {"versioned": versioned, "shared": route.shared, "secure": request.secure}
    if headers.client_has(request.if_none_match, address.etag):
        not_modified = headers.image_headers(
            address, None, versioned=versioned, shared=route.shared, secure=request.secure
        )
        return Reply(HTTPStatus.NOT_MODIFIED, not_modified, b"")
    try:
        image = service.cached_image(address)
    except cache.CacheUnavailable:
        return RenderNeeded(address, **kind, head=request.head, cache_checked=False)
    if image is None:
        return RenderNeeded(address, **kind, head=request.head, cache_checked=True)
    return _image_reply(address, image, cache_status=service.HIT, head=request.head, **kind)


def hand_on(environ: WSGIEnvironment, needed: RenderNeeded) -> None:
    """Leave `needed` for the view that will draw the image (the front layer's miss)."""
    environ[_HANDED_ON] = needed


def handed_on(environ: WSGIEnvironment | dict[str, Any]) -> RenderNeeded | None:
    """What the front layer decided for this request before handing it on, if anything."""
    return environ.get(_HANDED_ON)


def _image_reply(
    address: keys.Address,
    image: bytes,
    *,
    cache_status: str,
    versioned: bool,
    shared: bool,
    secure: bool,
    head: bool,
) -> Reply:
    image_headers = headers.image_headers(
        address, image, cache_status=cache_status, versioned=versioned, shared=shared, secure=secure
    )
    return Reply(HTTPStatus.OK, image_headers, b"" if head else image)


def _refusal(reason: str, status: int, request: ImageRequest) -> Reply:
    body = f"{reason}\n".encode()
    return Reply(
        status, headers.refusal_headers(body, secure=request.secure), b"" if request.head else body
    )


def _moved(location: str, request: ImageRequest) -> Reply:
    return Reply(HTTPStatus.FOUND, headers.redirect_headers(location, secure=request.secure), b"")


def _size_and_revision(query_string: str) -> tuple[int, str | None]:
    """The size (ValueError when bad) and the `v` a query asks for, as a view reads
    them: the plain form our links use at once, any other through QueryDict."""
    if plain := _PLAIN_QUERY.fullmatch(query_string):
        return sizes.parse_size(plain[1]), plain[2]
    # As WSGIRequest.GET decodes it: WSGI gives the query as bytes in latin-1.
    query = QueryDict(query_string.encode("iso-8859-1"), encoding=settings.DEFAULT_CHARSET)
    return sizes.parse_size(query.get("size")), query.get("v")
