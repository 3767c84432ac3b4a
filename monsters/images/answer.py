"""The one function that answers an image request, whichever layer asks.

`answer()` takes what an image request is (its path, query, If-None-Match, whether it
came over HTTPS and whether it carries a body) and gives back either the whole answer,
a `Reply`, or `RenderNeeded` when the image must be drawn. The thin layer in front of
Django (`front.FastImages`) sends a `Reply` itself and hands everything else to Django;
the views call the same function and send the same `Reply`, so a client cannot tell
which layer answered, hit or miss, body or none.

What follows `RenderNeeded` is `monsters.web.miss.draw()`: the rate limit, the render,
and mapping a renderer's failure to a status code; both layers call that too. The
avatar route is the avatar surface's (`monsters.avatars.route`).
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
from monsters.images import asked, formats, headers, identity, keys, links, service, sizes, styles
from monsters.models import Generation

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

SERVER_ERROR = "Internal server error: something went wrong on our side; please try again."
# The query strings our own links carry: nothing to decode, each name once. Any other
# query is read by Django's QueryDict, exactly as a view reads `request.GET`.
_PLAIN_QUERY = re.compile(r"size=([0-9]{1,4})(?:&v=([A-Za-z0-9._-]{1,64}))?")


Read = Callable[[re.Match[str], str], asked.Ask | asked.NotFound | asked.Redirect]


@dataclass(frozen=True)
class Route:
    """An image route: its path, how its path match and query become an `Ask`, whether
    its answers may be kept by shared caches, whether any site's script may read them
    (`cors`), its URL of the current art (after an old `v`), the origin its renders are
    recorded with, and whether its misses spend the client's rate-limit tokens."""

    path: re.Pattern[str]
    read: Read
    shared: bool
    current_url: Callable[[asked.Ask], str]
    origin: str
    cors: bool = False
    limited: bool = True


def _read_monster(match: re.Match[str], query_string: str) -> asked.Ask:
    """`/monster/<hash>[.<format>]?size=N&v=<revision>&style=<name>`: group 1 the hash,
    group 2 the format. Without `style`, the monster."""
    size, revision, style = _size_revision_style(query_string)
    extension = match[2] or None
    fmt = extension or formats.DEFAULT
    return asked.Ask(match[1], size, fmt, style, revision=revision, extension=extension)


def _read_staff(match: re.Match[str], query_string: str) -> asked.Ask:
    """Staff thumbnails: the monster, PNG, at `size`."""
    size, revision = _size_and_revision(query_string)
    return asked.Ask(match[1], size, formats.PNG, styles.MONSTER, revision=revision)


PUBLIC = Route(
    path=re.compile(rf"/monster/({identity.NAME_HASH_PATTERN}){formats.EXTENSION_PATTERN}"),
    read=_read_monster,
    shared=True,
    current_url=lambda ask: links.monster_url(
        ask.name_hash, ask.size, extension=ask.extension, style=ask.style
    ),
    origin=Generation.Origin.WEB,
)
STAFF = Route(
    path=re.compile(rf"/admin/monsters/generation/monster/({identity.NAME_HASH_PATTERN})()"),
    read=_read_staff,
    shared=False,  # staff-only thumbnails: kept by the browser alone
    current_url=lambda ask: links.staff_monster_url(ask.name_hash, ask.size),
    origin=Generation.Origin.ADMIN,
    limited=False,  # staff browse pages of 100 thumbnails
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
    cors: bool
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
            cors=self.cors,
            secure=self.secure,
            head=self.head,
        )

    def refusal(self, reason: str, status: int, more: headers.Headers | None = None) -> Reply:
        """A one-line text answer instead of the image (the client's limit, the
        renderer's failure), with `more` headers after the usual ones."""
        body = f"{reason}\n".encode()
        refusal = headers.refusal_headers(body, secure=self.secure, cors=self.cors)
        return Reply(status, [*refusal, *(more or [])], b"" if self.head else body)


def answer(request: ImageRequest, route: Route = PUBLIC) -> Reply | RenderNeeded | None:
    """The answer to an image request on `route`, `RenderNeeded`, or None when the path
    is not one of the route's images."""
    match = route.path.fullmatch(request.path)
    if match is None:
        return None
    if request.has_body:
        return _refusal("An image request takes no body.", HTTPStatus.BAD_REQUEST, request, route)
    try:
        ask = route.read(match, request.query)
    except asked.Refused as exc:
        return _refusal(str(exc), exc.status, request, route)
    if isinstance(ask, asked.NotFound):
        return _refusal(ask.reason, HTTPStatus.NOT_FOUND, request, route)
    if isinstance(ask, asked.Redirect):
        return _moved(ask.location, request, route)
    try:
        service.require_format(ask.fmt, ask.style)  # before a redirect, a 304 or a token
    except sources.FormatUnavailable as exc:
        return _refusal(str(exc), HTTPStatus.NOT_ACCEPTABLE, request, route)

    address = keys.locate(name_hash=ask.name_hash, size=ask.size, fmt=ask.fmt, style=ask.style)
    if ask.revision is not None and ask.revision != address.revision:
        return _moved(route.current_url(ask), request, route)
    versioned = ask.revision is not None
    kind = {
        "versioned": versioned,
        "shared": route.shared,
        "cors": route.cors,
        "secure": request.secure,
    }
    if headers.client_has(request.if_none_match, address.etag):
        not_modified = headers.image_headers(
            address,
            None,
            versioned=versioned,
            shared=route.shared,
            cors=route.cors,
            secure=request.secure,
        )
        return Reply(HTTPStatus.NOT_MODIFIED, not_modified, b"")
    try:
        image = service.cached_image(address)
    except cache.CacheUnavailable:
        return RenderNeeded(address, **kind, head=request.head, cache_checked=False)
    if image is None:
        return RenderNeeded(address, **kind, head=request.head, cache_checked=True)
    return _image_reply(address, image, cache_status=service.HIT, head=request.head, **kind)


def server_error(*, secure: bool, head: bool) -> Reply:
    """The 500 of a layer that failed to answer (the details are in the log, with the
    request id): the line Django's own 500 gives (monsters.web.errors)."""
    body = f"{SERVER_ERROR}\n".encode()
    return Reply(
        HTTPStatus.INTERNAL_SERVER_ERROR,
        headers.refusal_headers(body, secure=secure),
        body if not head else b"",
    )


def _image_reply(
    address: keys.Address,
    image: bytes,
    *,
    cache_status: str,
    versioned: bool,
    shared: bool,
    cors: bool,
    secure: bool,
    head: bool,
) -> Reply:
    image_headers = headers.image_headers(
        address,
        image,
        cache_status=cache_status,
        versioned=versioned,
        shared=shared,
        cors=cors,
        secure=secure,
    )
    return Reply(HTTPStatus.OK, image_headers, b"" if head else image)


def _refusal(reason: str, status: int, request: ImageRequest, route: Route) -> Reply:
    body = f"{reason}\n".encode()
    refusal = headers.refusal_headers(body, secure=request.secure, cors=route.cors)
    return Reply(status, refusal, b"" if request.head else body)


def _moved(location: str, request: ImageRequest, route: Route) -> Reply:
    moved = headers.redirect_headers(location, secure=request.secure, cors=route.cors)
    return Reply(HTTPStatus.FOUND, moved, b"")


def _size_and_revision(query_string: str) -> tuple[int, str | None]:
    size, revision, _ = _size_revision_style(query_string)
    return size, revision


def _size_revision_style(query_string: str) -> tuple[int, str | None, str]:
    """The size, the `v` and the style a query asks for (Refused when bad), as a view
    reads them: the plain form our monster links use at once, any other through
    QueryDict."""
    try:
        if plain := _PLAIN_QUERY.fullmatch(query_string):
            return sizes.parse_size(plain[1]), plain[2], styles.MONSTER
        # As WSGIRequest.GET decodes it: WSGI gives the query as bytes in latin-1.
        query = QueryDict(query_string.encode("iso-8859-1"), encoding=settings.DEFAULT_CHARSET)
        size = sizes.parse_size(query.get("size"))
    except ValueError as exc:
        raise asked.Refused(str(exc)) from exc
    style = query.get("style") or styles.MONSTER
    if not styles.is_registered(style):
        raise asked.Refused(f"style must be one of {', '.join(styles.registered())}")
    return size, query.get("v"), style
