"""Where monster images come from.

`DnmonsterSource` asks a renderer over HTTP with dnmonster's API; `BuiltinSource`
renders in-process with our own renderer. `get_source()` picks one from settings.
Every failure is a `SourceError` subclass that says what went wrong; only the views
turn them into status codes.

Formats: the built-in renderer draws PNG, SVG and WebP. A dnmonster speaks PNG only, so
for WebP its PNG is converted here (lossless), and SVG is drawn in-process, by the
built-in renderer, when the dnmonster's revision says it draws our own art
(`identidock-r<RENDERER_VERSION>`, what compose sets); for any other art there is no
SVG (`FormatUnavailable`): we cannot draw another renderer's monsters.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.util.retry import Retry

import renderer
from monsters.guards.breaker import Breaker, breaker_for
from monsters.images import formats
from monsters.metrics import RENDER_FAILURES, RENDERS
from monsters.per_settings import per_settings

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PNG_BYTES = 2 * 1024 * 1024
# The revision a dnmonster running our own renderer announces (DNMONSTER_REVISION).
OUR_ART_REVISION = f"identidock-r{renderer.RENDERER_VERSION}"

# Connections are retried (a renderer replica restarting); reads are not, because a
# slow renderer stays slow and the timeout is what the user waits for.
CONNECT_RETRIES = 2
RETRY_BACKOFF_SECONDS = 0.05
POOL_SIZE = 32
SLOT_WAIT_SECONDS = 0.05  # a request over the bulkhead's limit waits this for a slot


class SourceError(Exception):
    """The renderer could not give us a monster. The message is safe to show."""


class SourceUnavailable(SourceError):
    """Refused, unreachable, or answered with an error status."""


class SourceTimeout(SourceError):
    """Did not answer within the configured timeout."""


class InvalidImage(SourceError):
    """Answered, but not with an image we are willing to cache and serve."""


class FormatUnavailable(SourceError):
    """The renderer cannot give the monster in this format (SVG from another's art)."""


class RendererSkipped(SourceUnavailable):
    """Not asked at all: it failed repeatedly and its breaker is open."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("renderer is down; not asking it again for a moment")
        self.retry_after = retry_after


class RendererBusy(SourceUnavailable):
    """Not asked: RENDERER_MAX_WAITING requests of this process wait on it already."""

    def __init__(self) -> None:
        super().__init__("renderer is busy; please try again shortly")


class Source(Protocol):
    @property
    def name(self) -> str: ...  # recorded in the audit log

    # Which art it draws: part of every cache key, ETag and image URL (`v=`), so it
    # changes whenever the bytes for a hash and size could change.
    @property
    def revision(self) -> str: ...

    @property
    def address(self) -> str: ...  # where it is: its breaker's name

    def for_format(self, fmt: str) -> Source:
        """The source that gives `fmt` for this one's art (itself, or one that draws in
        process); FormatUnavailable when there is none."""
        ...

    def fetch(self, name_hash: str, size: int, fmt: str = formats.PNG) -> bytes: ...


def check_png(data: bytes) -> bytes:
    """`data` if it looks like a PNG of an acceptable size, else InvalidImage."""
    return check_image(data, formats.PNG)


_SIGNATURES = {
    formats.PNG: lambda data: data.startswith(PNG_SIGNATURE),
    formats.SVG: lambda data: data.startswith(b"<svg "),
    formats.WEBP: lambda data: data[:4] == b"RIFF" and data[8:12] == b"WEBP",
}


def check_image(data: bytes, fmt: str) -> bytes:
    """`data` if it looks like an image in `fmt` of an acceptable size, else InvalidImage."""
    if len(data) > MAX_PNG_BYTES:
        raise InvalidImage(f"renderer answered {len(data)} bytes, more than {MAX_PNG_BYTES}")
    if not _SIGNATURES[fmt](data):
        raise InvalidImage(f"renderer answered something that is not a {fmt.upper()}")
    return data


_DRAW = {
    formats.PNG: renderer.render,
    formats.SVG: renderer.render_svg,
    formats.WEBP: renderer.render_webp,
}


@dataclass(frozen=True)
class BuiltinSource:
    name: str = "builtin"
    revision: str = f"builtin-r{renderer.RENDERER_VERSION}"

    @property
    def address(self) -> str:
        return "in-process"

    def for_format(self, fmt: str) -> Source:
        return self

    def fetch(self, name_hash: str, size: int, fmt: str = formats.PNG) -> bytes:
        return _DRAW[fmt](name_hash, size)


@functools.cache
def _renderer_pool(base_url: str) -> urllib3.HTTPConnectionPool:
    """The process's pool of kept-alive connections to the renderer at `base_url`, made
    at the first fetch (gunicorn forks before the first request)."""
    retry = Retry(
        total=CONNECT_RETRIES,
        connect=CONNECT_RETRIES,
        read=False,  # re-raise read timeouts as themselves, not as "max retries"
        status=0,
        other=0,
        redirect=0,
        backoff_factor=RETRY_BACKOFF_SECONDS,
        allowed_methods=["GET"],
    )
    # urllib3 itself, not a requests.Session over it (STYLE.md's example): requests'
    # own machinery per call (preparing the request, hooks, cookies, header dicts) cost
    # as much CPU as the renderer spends drawing the monster (bench/profile_requests.py).
    # One pool for the one renderer, not a PoolManager, which looks the pool up by
    # scheme, host and port on every call (bench/renderer_clients.py). The renderer is a
    # service beside us, reached directly: a pool reads no proxy variables.
    return urllib3.connection_from_url(base_url, maxsize=POOL_SIZE, block=False, retries=retry)


@dataclass(frozen=True)
class DnmonsterSource:
    """A renderer with dnmonster's API at `base_url`, asked over the process's pooled,
    kept-alive connections (`_renderer_pool()`), with these timeouts per fetch."""

    base_url: str
    connect_timeout: float
    read_timeout: float
    revision: str
    name: str = "dnmonster"

    @property
    def address(self) -> str:
        return self.base_url

    def for_format(self, fmt: str) -> Source:
        if fmt != formats.SVG:
            return self
        if self.revision == OUR_ART_REVISION:
            return BuiltinSource()  # the same art, drawn here: no PNG can become a vector
        raise FormatUnavailable(
            f"SVG is drawn only for Identidock's own art, and this renderer draws "
            f"{self.revision}: ask for .png or .webp."
        )

    def fetch(self, name_hash: str, size: int, fmt: str = formats.PNG) -> bytes:
        if fmt == formats.SVG:  # never from the renderer: drawn here, or not at all
            return self.for_format(fmt).fetch(name_hash, size, fmt)
        png = self._fetch_png(name_hash, size)
        if fmt == formats.PNG:
            return png
        try:
            return renderer.webp_from_png(check_png(png))
        except ValueError as exc:
            raise InvalidImage(f"renderer answered a PNG we cannot convert: {exc}") from exc

    def _fetch_png(self, name_hash: str, size: int) -> bytes:
        # name_hash is validated hex and size an int: nothing in the URL to quote.
        path = f"{urlsplit(self.base_url).path.rstrip('/')}/monster/{name_hash}?size={size}"
        try:
            response = _renderer_pool(self.base_url).urlopen(
                "GET",
                path,
                timeout=urllib3.Timeout(connect=self.connect_timeout, read=self.read_timeout),
                redirect=False,  # not followed: the renderer answers the image, or fails
                preload_content=False,  # read below, with a cap
                release_conn=False,
            )
        except MaxRetryError as exc:  # could not connect, retries included
            reason = exc.reason or exc
            # urllib3 makes NewConnectionError (refused, no such host) a kind of
            # ConnectTimeoutError, for old callers: it is no timeout.
            if isinstance(reason, ConnectTimeoutError) and not isinstance(
                reason, NewConnectionError
            ):
                raise SourceTimeout(
                    f"renderer did not answer in time ({reason.__class__.__name__})"
                ) from exc
            raise SourceUnavailable(f"renderer unreachable ({reason.__class__.__name__})") from exc
        except urllib3.exceptions.TimeoutError as exc:  # connected, but no answer in time
            raise SourceTimeout(
                f"renderer did not answer in time ({exc.__class__.__name__})"
            ) from exc
        except HTTPError as exc:  # reset, broken off before the headers, a bad URL
            raise SourceUnavailable(f"renderer unreachable ({exc.__class__.__name__})") from exc
        try:
            return self._read_png(response)
        finally:
            # Read to its end, the connection went back to its pool already, for the next
            # fetch. Anything left unread (an error status, a body too long or broken
            # off) would be read as the next fetch's answer: close() drops that
            # connection, release_conn() gives its place in the pool back.
            response.close()
            response.release_conn()

    @staticmethod
    def _read_png(response: urllib3.BaseHTTPResponse) -> bytes:
        if response.status != 200:
            raise SourceUnavailable(f"renderer answered status {response.status}")
        content_type = response.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != "image/png":
            raise InvalidImage(f"renderer answered {content_type or 'no content type'}")
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > MAX_PNG_BYTES:
            raise InvalidImage(f"renderer answered {declared} bytes, more than {MAX_PNG_BYTES}")
        # Read one byte past the limit, never the whole of an oversized body.
        try:
            return response.read(MAX_PNG_BYTES + 1, decode_content=True)
        except ReadTimeoutError as exc:
            raise SourceTimeout("renderer stopped sending the image") from exc
        except HTTPError as exc:
            raise SourceUnavailable(f"renderer broke off ({exc.__class__.__name__})") from exc


def fetch_image(
    source: Source, name_hash: str, size: int, fmt: str = formats.PNG, *, bulkhead: bool = True
) -> bytes:
    """A checked image in `fmt` from `source`, behind its breaker: after repeated
    refusals or timeouts the renderer is not asked (RendererSkipped, at once) until a
    probe finds it back. A bad answer shows it is up: it does not count. Ask
    `source.for_format(fmt)` first: the source that really draws it has the breaker."""
    breaker = breaker_for(
        f"renderer {source.address}",
        failures_to_open=settings.BREAKER_FAILURES,
        cool_down=settings.BREAKER_COOL_DOWN,
    )
    # Drawing here is work, not a wait; the warmer's threads are bounded by its own
    # concurrency and serve no request (`bulkhead=False`).
    if not bulkhead or source.address == BuiltinSource().address:
        return _fetch_checked(source, breaker, name_hash, size, fmt)
    slots = _bulkhead(source.address, settings.RENDERER_MAX_WAITING)
    # A healthy renderer frees a slot within a render's time: wait that long for one,
    # not longer, so a renderer that stopped answering costs a request this and no more.
    # Taken before the breaker is asked, so a refused request never holds its probe.
    if not slots.acquire(timeout=SLOT_WAIT_SECONDS):
        RENDER_FAILURES.labels("busy").inc()
        raise RendererBusy()
    try:
        return _fetch_checked(source, breaker, name_hash, size, fmt)
    finally:
        slots.release()


@functools.cache
def _bulkhead(address: str, most: int) -> threading.BoundedSemaphore:
    """The slots of this process's requests that may wait on the renderer at `address`."""
    return threading.BoundedSemaphore(most)


def _fetch_checked(source: Source, breaker: Breaker, name_hash: str, size: int, fmt: str) -> bytes:
    if not breaker.allow():
        RENDER_FAILURES.labels("skipped").inc()
        raise RendererSkipped(retry_after=breaker.retry_after())
    started = time.perf_counter()
    try:
        image = check_image(source.fetch(name_hash, size, fmt), fmt)
    except (SourceUnavailable, SourceTimeout) as exc:
        RENDER_FAILURES.labels("timeout" if isinstance(exc, SourceTimeout) else "unavailable").inc()
        breaker.failed()
        raise
    except InvalidImage:
        RENDER_FAILURES.labels("bad_image").inc()
        breaker.succeeded()  # it answered, if badly: up, and no wait to save
        raise
    RENDERS.observe(time.perf_counter() - started)
    breaker.succeeded()
    return image


@per_settings
def get_source() -> Source:
    """The renderer the settings name: DNMONSTER_URL, else the built-in one (one
    object per process: every request asks, a hit for the revision in its key)."""
    if settings.DNMONSTER_URL:
        return DnmonsterSource(
            base_url=settings.DNMONSTER_URL,
            connect_timeout=settings.DNMONSTER_CONNECT_TIMEOUT,
            read_timeout=settings.DNMONSTER_READ_TIMEOUT,
            # Unset, we cannot tell one external renderer's art from another's.
            revision=settings.DNMONSTER_REVISION or "dnmonster",
        )
    return BuiltinSource()
