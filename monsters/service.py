"""The one path from a (hash, size) to a PNG, and the one home of cache keys and ETags.

Views, the staff thumbnails, the warmer and the admin actions all come here:

    locate()          -> MonsterRef: the current art's revision, cache key and ETag,
                         computed once per image and known without touching the cache
    get_identicon()   cache GET -> hit: done. Miss: source -> check PNG -> SET NX -> audit row
    generate_identicon()  the miss path alone, for callers that checked the cache in bulk
    cached_entries(), evict_entries()   bulk presence and eviction, one round trip each

A hit costs one cache GET and nothing else: no SQL, no renderer call.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from django.db import DatabaseError, transaction

from . import cache, sources
from .models import Generation

logger = logging.getLogger(__name__)

KEY_SCHEMA = "v1"


class Entry(NamedTuple):
    """One monster image, whatever the art: the monster of `name_hash` at `size` px."""

    name_hash: str
    size: int


@dataclass(frozen=True)
class MonsterRef:
    """One image under the current art: everything that decides its bytes, and the
    cache key and strong ETag derived from them."""

    name_hash: str
    size: int
    revision: str
    key: str
    etag: str

    @property
    def entry(self) -> Entry:
        return Entry(self.name_hash, self.size)


@dataclass(frozen=True)
class Identicon:
    png: bytes
    ref: MonsterRef
    cache_hit: bool


@dataclass(frozen=True)
class EvictReport:
    evicted: int
    not_cached: int


def current_revision() -> str:
    """The revision of the art the configured renderer draws (`builtin-r1`, ...)."""
    return sources.get_source().revision


def monster_key(*, revision: str, size: int, name_hash: str) -> str:
    return f"monster:{KEY_SCHEMA}:{revision}:{size}:{name_hash}"


def locate(*, name_hash: str, size: int) -> MonsterRef:
    """The reference of one image under the current art."""
    revision = current_revision()
    key = monster_key(revision=revision, size=size, name_hash=name_hash)
    etag = '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'
    return MonsterRef(name_hash=name_hash, size=size, revision=revision, key=key, etag=etag)


def _locate_all(entries: Iterable[Entry]) -> dict[str, Entry]:
    """Cache key -> entry under the current art, one per distinct entry, in order."""
    revision = current_revision()
    return {
        monster_key(revision=revision, size=size, name_hash=name_hash): Entry(name_hash, size)
        for name_hash, size in entries
    }


def cached_entries(entries: Iterable[Entry]) -> set[Entry]:
    """Which entries are cached under the current art, checked in one round trip.

    Never one GET per entry. An unreachable cache answers "none".
    """
    by_key = _locate_all(entries)
    return {by_key[key] for key in cache.get_many(list(by_key))}


def evict_entries(entries: Iterable[Entry]) -> EvictReport:
    """Delete the cached images of `entries`. The audit log keeps its rows."""
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


def cached_png(ref: MonsterRef) -> bytes | None:
    """The cached image `ref` names, or None: a read, never a render."""
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
    not asked twice (SET NX still settles a race with another writer).
    """
    if not (force or cache_checked):
        png = cached_png(ref)
        if png is not None:
            return Identicon(png=png, ref=ref, cache_hit=True)
    logger.info("Cache miss: %s size=%d revision=%s", ref.name_hash[:12], ref.size, ref.revision)
    png, _ = _generate(ref, origin=origin, overwrite=force)
    return Identicon(png=png, ref=ref, cache_hit=False)


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
    logger.info("Generating: %s size=%d revision=%s", ref.name_hash[:12], ref.size, ref.revision)
    _, stored = _generate(ref, origin=origin, overwrite=force, audit=audit)
    return stored


def _generate(
    ref: MonsterRef, *, origin: str, overwrite: bool, audit: AuditBatch | None = None
) -> tuple[bytes, bool]:
    """Render, check, cache, then record: the audit row only ever follows a cached PNG."""
    source = sources.get_source()
    started = time.perf_counter()
    try:
        png = sources.check_png(source.fetch(ref.name_hash, ref.size))
    except sources.SourceError as exc:
        logger.warning("Renderer failed for %s size=%d: %s", ref.name_hash[:12], ref.size, exc)
        raise
    render_ms = (time.perf_counter() - started) * 1000

    if overwrite:
        cache.replace(ref.key, png)
        stored = True
    else:
        stored = cache.add(ref.key, png)
    if stored:
        generation = Generation(
            name_hash=ref.name_hash,
            size=ref.size,
            source=source.name,
            origin=origin,
            png_bytes=len(png),
            render_ms=render_ms,
        )
        if audit is None:
            _record_generations([generation])
        else:
            audit.add(generation)
    return png, stored


class AuditBatch:
    """Audit rows collected from many threads, written in one INSERT per `size` rows
    by whichever thread calls `write_if_full()` or `flush()`.

    For the warmer, where one INSERT and COMMIT per generation would cost more than
    the render; its workers only `add()`, so they never need a database connection.
    Rows are only added once their PNG is cached; `flush()` writes what is pending and
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
        _record_generations(rows)

    def flush(self) -> None:
        with self._lock:
            rows, self._rows = self._rows, []
        if rows:
            _record_generations(rows)


def _record_generations(generations: list[Generation]) -> None:
    # The images are already cached and can be served; losing their audit rows is
    # logged loudly rather than turned into an error page for the user.
    try:
        with transaction.atomic():
            if len(generations) == 1:
                generations[0].save(force_insert=True)
            else:
                Generation.objects.bulk_create(generations)
    except DatabaseError:
        first = generations[0].name_hash[:12]
        if len(generations) == 1:
            logger.exception("Could not record the generation of %s", first)
        else:
            logger.exception("Could not record %d generations (%s, ...)", len(generations), first)
