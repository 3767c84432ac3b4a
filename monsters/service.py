"""get_identicon(): the one path from an identifier to a PNG.

cache GET -> hit: return. Miss: source -> check PNG -> cache SET -> one audit row.
A hit costs one cache GET and nothing else: no SQL, no renderer call.
"""

from __future__ import annotations

import hashlib
import logging
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
    started = time.perf_counter()
    try:
        png = sources.check_png(source.fetch(identifier, size))
    except sources.SourceError as exc:
        logger.warning("Renderer failed for %s size=%d: %s", identifier[:12], size, exc)
        raise
    render_ms = (time.perf_counter() - started) * 1000

    if cache.store_png(key, png, overwrite=force):
        _record_generation(
            Generation(
                name_hash=identifier,
                size=size,
                source=source.name,
                origin=origin,
                png_bytes=len(png),
                render_ms=render_ms,
            )
        )
    return Identicon(png=png, etag=etag, cache_hit=False)


def _record_generation(generation: Generation) -> None:
    # The image is already cached and can be served; losing its audit row is logged
    # loudly rather than turned into an error page for the user.
    try:
        with transaction.atomic():
            generation.save(force_insert=True)
    except DatabaseError:
        logger.exception("Could not record the generation of %s", generation.name_hash[:12])
