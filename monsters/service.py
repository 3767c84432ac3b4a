"""get_identicon(): the one path from an identifier to a PNG.

cache GET -> hit: return. Miss: source -> check PNG -> cache SET -> one audit row.
A hit costs one cache GET and nothing else: no SQL, no renderer call.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import DatabaseError, transaction

from . import cache, sources
from .models import Generation

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identicon:
    png: bytes
    etag: str
    cache_hit: bool


def _etag_for_key(key: str) -> str:
    return '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'


def identicon_etag(*, identifier: str, size: int) -> str:
    """A strong ETag, known without touching the cache: the cache key names
    everything that decides the bytes (source, renderer revision, size, hash)."""
    source = sources.get_source()
    return _etag_for_key(
        cache.monster_key(source=source.cache_namespace, size=size, identifier=identifier)
    )


def cached_identicons(entries: Iterable[tuple[str, int]]) -> set[tuple[str, int]]:
    """Which of the (identifier, size) pairs are cached, checked in one round trip.

    For the cache warmer: never one GET per entry. An unreachable cache answers "none".
    """
    namespace = sources.get_source().cache_namespace
    by_key = {
        cache.monster_key(source=namespace, size=size, identifier=identifier): (identifier, size)
        for identifier, size in entries
    }
    if not by_key:
        return set()
    return {by_key[key] for key in cache.get_many_png(list(by_key))}


def get_identicon(
    *, identifier: str, size: int, origin: str = Generation.Origin.WEB, force: bool = False
) -> Identicon:
    """The monster for `identifier` at `size`, generating it on a cache miss.

    Raises `sources.SourceError` when the renderer fails; then nothing is cached and
    nothing is recorded. `force` regenerates even when the entry is cached.
    """
    source = sources.get_source()
    key = cache.monster_key(source=source.cache_namespace, size=size, identifier=identifier)
    etag = _etag_for_key(key)
    if not force:
        png = cache.get_png(key)
        if png is not None:
            return Identicon(png=png, etag=etag, cache_hit=True)

    logger.info("Cache miss: %s size=%d source=%s", identifier[:12], size, source.name)
    png, _ = _generate(source, key, identifier, size, origin=origin, overwrite=force)
    return Identicon(png=png, etag=etag, cache_hit=False)


def generate_identicon(
    *,
    identifier: str,
    size: int,
    origin: str,
    force: bool = False,
    audit: AuditBatch | None = None,
) -> bool:
    """Generate, cache and record the monster without looking in the cache first.

    For callers that have just checked the cache in bulk (the cache warmer): one Redis
    round trip fewer per entry than `get_identicon`. True when this call stored the
    entry and recorded it; False when another writer had stored it meanwhile (SET NX),
    which then counts as the one generation. `audit` collects the row into a batch
    instead of writing it at once. Raises `sources.SourceError` like `get_identicon`.
    """
    source = sources.get_source()
    key = cache.monster_key(source=source.cache_namespace, size=size, identifier=identifier)
    logger.info("Generating: %s size=%d source=%s", identifier[:12], size, source.name)
    _, stored = _generate(
        source, key, identifier, size, origin=origin, overwrite=force, audit=audit
    )
    return stored


def _generate(
    source: sources.Source,
    key: str,
    identifier: str,
    size: int,
    *,
    origin: str,
    overwrite: bool,
    audit: AuditBatch | None = None,
) -> tuple[bytes, bool]:
    """Render, check, cache, then record: the audit row only ever follows a cached PNG."""
    started = time.perf_counter()
    try:
        png = sources.check_png(source.fetch(identifier, size))
    except sources.SourceError as exc:
        logger.warning("Renderer failed for %s size=%d: %s", identifier[:12], size, exc)
        raise
    render_ms = (time.perf_counter() - started) * 1000

    stored = cache.store_png(key, png, overwrite=overwrite)
    if stored:
        generation = Generation(
            name_hash=identifier,
            size=size,
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
    """Audit rows collected from many threads and written in one INSERT per `size`.

    For the cache warmer, where one INSERT and COMMIT per generation would cost more
    than the render. Rows are only added once their PNG is cached; `flush()` writes
    what is pending and must be called at the end. A process killed in between loses
    at most the pending rows: cached entries without their row, never the reverse.
    """

    def __init__(self, size: int = 100) -> None:
        self._size = size
        self._rows: list[Generation] = []
        self._lock = threading.Lock()

    def add(self, generation: Generation) -> None:
        with self._lock:
            self._rows.append(generation)
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
