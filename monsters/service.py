"""The one path from a (hash, size, format) to an image, and the one home of cache keys
and ETags.

Views, the staff thumbnails, the warmer and the admin actions all come here:

    locate()          -> MonsterRef: the current art's revision, cache key and ETag,
                         computed once per image and known without touching the cache
    require_format()  FormatUnavailable when the configured renderer has no such format
    get_identicon()   cache GET -> hit: done. Miss: source -> check image -> SET NX -> audit row
    generate_identicon()  the miss path alone, for callers that checked the cache in bulk
    cached_entries(), evict_entries()   bulk presence and eviction, one round trip each

A hit costs one cache GET and nothing else: no SQL, no renderer call. Each format is an
image of its own: its own key (PNG's keys are the keys from before there were formats,
so the entries already cached stay valid), ETag, single flight and audit row.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from django.conf import settings

from . import audit as audit_log
from . import audit_writer, cache, formats, sources
from .metrics import GENERATIONS, SINGLE_FLIGHT_WAITS
from .models import Generation
from .per_settings import per_settings

logger = logging.getLogger(__name__)

KEY_SCHEMA = "v1"
# Waiters for another request's render look in the cache this often, backing off.
FIRST_POLL_SECONDS = 0.01
LAST_POLL_SECONDS = 0.1


class Entry(NamedTuple):
    """One monster image, whatever the art: the monster of `name_hash` at `size` px, in
    format `fmt`."""

    name_hash: str
    size: int
    fmt: str = formats.PNG


@dataclass(frozen=True)
class MonsterRef:
    """One image under the current art: everything that decides its bytes, and the
    cache key and strong ETag derived from them."""

    name_hash: str
    size: int
    revision: str
    key: str
    etag: str
    fmt: str = formats.PNG

    @property
    def entry(self) -> Entry:
        return Entry(self.name_hash, self.size, self.fmt)


HIT, MISS, BYPASS = "HIT", "MISS", "BYPASS"  # the cache's part in an answer (X-Cache)


@dataclass(frozen=True)
class Identicon:
    image: bytes  # in the format `ref` names
    ref: MonsterRef
    cache_status: str  # HIT, MISS, or BYPASS when the cache could not be reached

    @property
    def cache_hit(self) -> bool:
        return self.cache_status == HIT


@dataclass(frozen=True)
class EvictReport:
    evicted: int
    not_cached: int


def current_revision() -> str:
    """The revision of the art the configured renderer draws (`builtin-r1`, ...)."""
    return sources.get_source().revision


def monster_key(*, revision: str, size: int, name_hash: str, fmt: str = formats.PNG) -> str:
    """`monster:v1:<revision>:<size>:<hash>` for PNG (the key from before formats), with
    `.svg` or `.webp` after it for the others."""
    suffix = "" if fmt == formats.PNG else f".{fmt}"
    return f"monster:{KEY_SCHEMA}:{revision}:{size}:{name_hash}{suffix}"


def locate(*, name_hash: str, size: int, fmt: str = formats.PNG) -> MonsterRef:
    """The reference of one image under the current art. The ETag is derived from the
    key, so it names the revision, the size, the hash and the format."""
    return _located(name_hash, size, fmt)


# Every hit asks for its image's reference: the most recent ones are kept (a few MB).
@per_settings(maxsize=4096)
def _located(name_hash: str, size: int, fmt: str) -> MonsterRef:
    revision = current_revision()
    key = monster_key(revision=revision, size=size, name_hash=name_hash, fmt=fmt)
    etag = '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'
    return MonsterRef(
        name_hash=name_hash, size=size, revision=revision, key=key, etag=etag, fmt=fmt
    )


def require_format(fmt: str) -> None:
    """FormatUnavailable (with the reason) when the configured renderer cannot give
    `fmt`; asked before anything is counted, read or rendered."""
    sources.get_source().for_format(fmt)


def _locate_all(entries: Iterable[Entry]) -> dict[str, Entry]:
    """Cache key -> entry under the current art, one per distinct entry, in order."""
    revision = current_revision()
    return {
        monster_key(revision=revision, size=size, name_hash=name_hash, fmt=fmt): Entry(
            name_hash, size, fmt
        )
        for name_hash, size, fmt in entries
    }


def cached_entries(entries: Iterable[Entry]) -> set[Entry]:
    """Which entries are cached under the current art, checked in one round trip.

    Never one GET per entry. An unreachable cache answers "none".
    """
    by_key = _locate_all(entries)
    try:
        return {by_key[key] for key in cache.get_many(list(by_key))}
    except cache.CacheUnavailable:
        return set()


def evict_entries(entries: Iterable[Entry]) -> EvictReport:
    """Delete the cached images of `entries`. The audit log keeps its rows.

    Raises `cache.CacheUnavailable` when the cache cannot be reached."""
    by_key = _locate_all(entries)
    present = list(cache.get_many(list(by_key)))
    cache.delete_many(present)
    return EvictReport(evicted=len(present), not_cached=len(by_key) - len(present))


def cache_answers() -> bool:
    """False when the monster cache cannot be reached; writes nothing."""
    return cache.answers(monster_key(revision="probe", size=0, name_hash="probe"))


def cache_is_process_local() -> bool:
    """True when the cache is this process's memory: what a command stores is lost."""
    return cache.is_process_local()


def cached_image(ref: MonsterRef) -> bytes | None:
    """The cached image `ref` names, or None: a read, never a render.

    Raises `cache.CacheUnavailable` when the cache cannot be reached."""
    return cache.get(ref.key)


def get_identicon(
    ref: MonsterRef,
    *,
    origin: str = Generation.Origin.WEB,
    force: bool = False,
    cache_checked: bool = False,
) -> Identicon:
    """The image `ref` names, generating it on a cache miss.

    Raises `sources.SourceError` when the renderer fails; then nothing is cached and
    nothing is recorded. `force` regenerates even when the entry is cached;
    `cache_checked` says the caller has just missed it (the fast layer), so the cache is
    not asked twice. With the cache unreachable the image is rendered and served
    without it (BYPASS).

    Concurrent misses of one image make one render (single flight): the first takes a
    short lock and renders, the others wait for its result in the cache, and render
    themselves only if it failed or died. Of renders that race anyway, SET NX keeps
    exactly one audit row.
    """
    if not (force or cache_checked):
        try:
            image = cached_image(ref)
        except cache.CacheUnavailable:
            image, _, _ = _generate(ref, origin=origin, overwrite=force)
            return Identicon(image=image, ref=ref, cache_status=BYPASS)
        if image is not None:
            return Identicon(image=image, ref=ref, cache_status=HIT)
    return _single_flight(ref, origin=origin, force=force)


def _single_flight(ref: MonsterRef, *, origin: str, force: bool) -> Identicon:
    deadline = time.monotonic() + _render_budget()
    pause = FIRST_POLL_SECONDS
    waited = False
    while True:
        with cache.leadership(_lock_name(ref), seconds=_render_budget()) as flight:
            if flight.leader or force:
                logger.debug("Cache miss: %s size=%d %s", ref.name_hash[:12], ref.size, ref.fmt)
                image, _, bypassed = _generate(ref, origin=origin, overwrite=force)
                flight.succeeded()  # the lock stays until it expires: late comers wait
                return Identicon(image=image, ref=ref, cache_status=BYPASS if bypassed else MISS)
        if not waited:
            SINGLE_FLIGHT_WAITS.inc()
            waited = True
        time.sleep(pause)
        pause = min(pause * 1.5, LAST_POLL_SECONDS)
        try:
            found = cached_image(ref)
        except cache.CacheUnavailable:
            found = None
        if found is not None:
            return Identicon(image=found, ref=ref, cache_status=HIT)
        if time.monotonic() >= deadline:  # the holder is stuck: render ourselves
            image, _, bypassed = _generate(ref, origin=origin, overwrite=force)
            return Identicon(image=image, ref=ref, cache_status=BYPASS if bypassed else MISS)


def _lock_name(ref: MonsterRef) -> str:
    return f"lock:{ref.key}"


def _render_budget() -> float:
    """How long one render may take: the renderer's timeouts, plus a margin."""
    return float(settings.DNMONSTER_CONNECT_TIMEOUT + settings.DNMONSTER_READ_TIMEOUT + 1)


def generate_identicon(
    ref: MonsterRef,
    *,
    origin: str,
    force: bool = False,
    audit: AuditBatch | None = None,
) -> bool:
    """Generate, cache and record the image without looking in the cache first.

    For callers that have just checked the cache in bulk (the warmer): one round trip
    fewer per entry than `get_identicon`. True when this call stored the entry and
    recorded it; False when another writer had stored it meanwhile (SET NX), which
    then counts as the one generation. `audit` collects the row into a batch instead
    of writing it at once. Raises `sources.SourceError` like `get_identicon`.
    """
    logger.debug("Generating: %s size=%d %s", ref.name_hash[:12], ref.size, ref.fmt)
    _, stored, _ = _generate(ref, origin=origin, overwrite=force, audit=audit)
    return stored


def _generate(
    ref: MonsterRef, *, origin: str, overwrite: bool, audit: AuditBatch | None = None
) -> tuple[bytes, bool, bool]:
    """Render, check, cache, then record: the audit row only ever follows a stored image.

    Returns (image, stored, bypassed): `stored` is False when another writer had stored
    the image first (then it is theirs to record); `bypassed` when the cache could not
    be reached (the image still counts as generated, and this process keeps it).

    A web miss stores the image together with the row's intent, in one atomic Redis
    step: should this process die between the image and the row's INSERT, a flusher
    writes the row from the intent (audit.py). So guarded, the row is written behind
    the answer, in a batch with others (audit_writer.py). The warmer's batches keep their rows in
    memory until a batch is written, as their docstring says.
    """
    source = sources.get_source().for_format(ref.fmt)
    started = time.perf_counter()
    image = sources.fetch_image(source, ref.name_hash, ref.size, ref.fmt)
    render_ms = (time.perf_counter() - started) * 1000
    generation = audit_log.new_generation(
        name_hash=ref.name_hash,
        size=ref.size,
        fmt=ref.fmt,
        source=source.name,
        origin=origin,
        png_bytes=len(image),
        render_ms=render_ms,
    )

    bypassed = False
    intent: str | None = None
    try:
        if overwrite:
            cache.replace(ref.key, image)
            stored = True
        elif audit is None:
            stream, fields = audit_log.intent_of(generation)
            stored, intent = cache.add_with_intent(ref.key, image, stream=stream, fields=fields)
        else:
            stored = cache.add(ref.key, image)
    except cache.CacheUnavailable:
        stored = bypassed = True
    if stored:
        GENERATIONS.labels(origin).inc()
        if audit is None:
            audit_writer.record_miss(generation, intent)  # behind the answer, with an intent
        else:
            audit.add(generation)
    return image, stored, bypassed


class AuditBatch:
    """Audit rows collected from many threads, written in one INSERT per `size` rows
    by whichever thread calls `write_if_full()` or `flush()`.

    For the warmer, where one INSERT and COMMIT per generation would cost more than
    the render; its workers only `add()`, so they never need a database connection.
    Rows are only added once their image is cached; `flush()` writes what is pending and
    must be called at the end. A process killed in between loses at most the pending
    rows: cached entries without their row, never the reverse.
    """

    def __init__(self, size: int = 100) -> None:
        self._size = size
        self._rows: list[Generation] = []
        self._lock = threading.Lock()

    def add(self, generation: Generation) -> None:
        with self._lock:
            self._rows.append(generation)

    def write_if_full(self) -> None:
        with self._lock:
            if len(self._rows) < self._size:
                return
            rows, self._rows = self._rows, []
        audit_log.record(rows)

    def flush(self) -> None:
        with self._lock:
            rows, self._rows = self._rows, []
        if rows:
            audit_log.record(rows)
