"""The one path from an image's address (`keys.locate`) to its bytes.

The image function, the staff thumbnails, the warmer and the admin actions all come here:

    require_format()  FormatUnavailable when the configured renderer has no such format
    cached_image()    the cache's bytes, or None: a read, never a render
    get_picture()     cache GET -> hit: done. Miss: source -> check image -> SET NX -> audit row
    generate_picture()  the miss path alone, for callers that checked the cache in bulk
    cached_specs(), evict_specs()   bulk presence and eviction, one round trip each

A hit costs one cache GET and nothing else: no SQL, no renderer call. Each format is an
image of its own: its own key (PNG's keys are the keys from before there were formats,
so the entries already cached stay valid), ETag, single flight and audit row.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings

from monsters.audit import record as audit_log
from monsters.audit import writer as audit_writer
from monsters.audit.writer import Batcher
from monsters.guards import admission, cache, rate_limit, single_flight, sources
from monsters.images import keys, styles
from monsters.images.keys import Address, Spec
from monsters.metrics import GENERATIONS, SINGLE_FLIGHT_WAITS
from monsters.models import Generation

logger = logging.getLogger(__name__)

# Waiters for another request's render look in the cache this often, backing off.
FIRST_POLL_SECONDS = 0.01
LAST_POLL_SECONDS = 0.1


HIT, MISS, BYPASS = "HIT", "MISS", "BYPASS"  # the cache's part in an answer (X-Cache)


@dataclass(frozen=True)
class Picture:
    """An image's bytes, its address, and the cache's part in getting them."""

    image: bytes  # in the format `address` names
    address: Address
    cache_status: str  # HIT, MISS, or BYPASS when the cache could not be reached

    @property
    def cache_hit(self) -> bool:
        return self.cache_status == HIT


@dataclass(frozen=True)
class EvictReport:
    evicted: int
    not_cached: int


def require_format(fmt: str, style: str = styles.MONSTER) -> None:
    """FormatUnavailable (with the reason) when the configured renderer cannot give
    `fmt` in `style`; asked before anything is counted, read or rendered."""
    _source_of(style).for_format(fmt)


def _source_of(style: str) -> sources.Source:
    """The monster from the configured renderer; any other style drawn here
    (`styles.StyleSource`): a dnmonster draws monsters only."""
    if style == styles.MONSTER:
        return sources.get_source()
    return styles.StyleSource(style)


def cached_specs(entries: Iterable[Spec]) -> set[Spec]:
    """Which entries are cached under the current art, checked in one round trip.

    Never one GET per entry. An unreachable cache answers "none".
    """
    by_key = keys.keys_of(entries)
    try:
        return {by_key[key] for key in cache.get_many(list(by_key))}
    except cache.CacheUnavailable:
        return set()


def evict_specs(entries: Iterable[Spec]) -> EvictReport:
    """Delete the cached images of `entries`, and the single-flight locks their last
    renders left (a leader keeps its lock until it expires, for late comers to wait on
    the cache): the next miss then draws at once instead of waiting out the lock. The
    audit log keeps its rows.

    Raises `cache.CacheUnavailable` when the cache cannot be reached."""
    by_key = keys.keys_of(entries)
    present = list(cache.get_many(list(by_key)))
    cache.delete_many(present + [_lock_name(key) for key in present])
    return EvictReport(evicted=len(present), not_cached=len(by_key) - len(present))


def cache_answers() -> bool:
    """False when the monster cache cannot be reached; writes nothing."""
    return cache.answers(keys.monster_key(revision="probe", size=0, name_hash="probe"))


def cache_is_process_local() -> bool:
    """True when the cache is this process's memory: what a command stores is lost."""
    return cache.is_process_local()


def cached_image(address: Address) -> bytes | None:
    """The cached image `address` names, or None: a read, never a render.

    Raises `cache.CacheUnavailable` when the cache cannot be reached."""
    return cache.get(address.key)


def get_picture(
    address: Address,
    *,
    origin: str = Generation.Origin.WEB,
    force: bool = False,
    cache_checked: bool = False,
    claim: single_flight.Claim | None = None,
) -> Picture:
    """The image `address` names, generating it on a cache miss.

    Raises `sources.SourceError` when the renderer fails; then nothing is cached and
    nothing is recorded. `force` regenerates even when the entry is cached;
    `cache_checked` says the caller has just missed it (the fast layer), so the cache is
    not asked twice. With the cache unreachable the image is rendered and served
    without it (BYPASS).

    Concurrent misses of one image make one render (single flight): the first takes a
    short lock and renders, the others wait for its result in the cache, and render
    themselves only if it failed or died. Of renders that race anyway, SET NX keeps
    exactly one audit row. `claim`: the single flight's lock was asked for already
    (`admit_miss`), after a miss: the cache is not asked again either.
    """
    if not (force or cache_checked or claim is not None):
        try:
            image = cached_image(address)
        except cache.CacheUnavailable:
            image, _, _ = _generate(address, origin=origin, overwrite=force)
            return Picture(image=image, address=address, cache_status=BYPASS)
        if image is not None:
            return Picture(image=image, address=address, cache_status=HIT)
    return _single_flight(address, origin=origin, force=force, claim=claim)


def admit_miss(address: Address, limit: rate_limit.Limit, client: str) -> admission.Admission:
    """A rate-limit token for `client` and, if given, the lead of `address`'s single
    flight, in one round trip: what a public miss asks before `get_picture`."""
    return admission.admit(limit, client, lock=_lock_name(address.key), seconds=_render_budget())


def _single_flight(
    address: Address, *, origin: str, force: bool, claim: single_flight.Claim | None
) -> Picture:
    deadline = time.monotonic() + _render_budget()
    pause = FIRST_POLL_SECONDS
    waited = False
    while True:
        with single_flight.leadership(
            _lock_name(address.key), seconds=_render_budget(), claim=claim
        ) as flight:
            if flight.leader or force:
                logger.debug(
                    "Cache miss: %s size=%d %s %s",
                    address.name_hash[:12],
                    address.size,
                    address.fmt,
                    address.style,
                )
                image, _, bypassed = _generate(address, origin=origin, overwrite=force)
                flight.succeeded()  # the lock stays until it expires: late comers wait
                return Picture(
                    image=image, address=address, cache_status=BYPASS if bypassed else MISS
                )
        claim = None  # asked for once: a waiter asks again
        if not waited:
            SINGLE_FLIGHT_WAITS.inc()
            waited = True
        time.sleep(pause)
        pause = min(pause * 1.5, LAST_POLL_SECONDS)
        try:
            found = cached_image(address)
        except cache.CacheUnavailable:
            found = None
        if found is not None:
            return Picture(image=found, address=address, cache_status=HIT)
        if time.monotonic() >= deadline:  # the holder is stuck: render ourselves
            image, _, bypassed = _generate(address, origin=origin, overwrite=force)
            return Picture(image=image, address=address, cache_status=BYPASS if bypassed else MISS)


def _lock_name(key: str) -> str:
    return f"lock:{key}"


def _render_budget() -> float:
    """How long one render may take: the renderer's timeouts, plus a margin."""
    return float(settings.DNMONSTER_CONNECT_TIMEOUT + settings.DNMONSTER_READ_TIMEOUT + 1)


def generate_picture(
    address: Address,
    *,
    origin: str,
    force: bool = False,
    audit: Batcher | None = None,
) -> bool:
    """Generate, cache and record the image without looking in the cache first.

    For callers that have just checked the cache in bulk (the warmer): one round trip
    fewer per entry than `get_picture`. True when this call stored the entry and
    recorded it; False when another writer had stored it meanwhile (SET NX), which
    then counts as the one generation. `audit` collects the row into a batch instead
    of writing it at once. Raises `sources.SourceError` like `get_picture`.
    """
    logger.debug("Generating: %s size=%d %s", address.name_hash[:12], address.size, address.fmt)
    _, stored, _ = _generate(address, origin=origin, overwrite=force, audit=audit)
    return stored


def _generate(
    address: Address, *, origin: str, overwrite: bool, audit: Batcher | None = None
) -> tuple[bytes, bool, bool]:
    """Render, check, cache, then record: the audit row only ever follows a stored image.

    Returns (image, stored, bypassed): `stored` is False when another writer had stored
    the image first (then it is theirs to record); `bypassed` when the cache could not
    be reached (the image still counts as generated, and this process keeps it).

    A web miss stores the image together with the row's intent, in one atomic Redis
    step: should this process die between the image and the row's INSERT, a flusher
    writes the row from the intent (audit/record.py). So guarded, the row is written
    behind the answer, in a batch with others (audit/writer.py). The warmer's batches
    keep their rows in memory until a batch is written, as their docstring says.
    """
    source = _source_of(address.style).for_format(address.fmt)
    started = time.perf_counter()
    image = sources.fetch_image(
        source,
        address.name_hash,
        address.size,
        address.fmt,
        bulkhead=origin == Generation.Origin.WEB,  # the threads that answer requests
    )
    render_ms = (time.perf_counter() - started) * 1000
    generation = audit_log.new_generation(
        name_hash=address.name_hash,
        size=address.size,
        fmt=address.fmt,
        style=address.style,
        source=source.name,
        origin=origin,
        png_bytes=len(image),
        render_ms=render_ms,
    )

    bypassed = False
    intent: str | None = None
    try:
        if overwrite:
            cache.replace(address.key, image)
            stored = True
        elif audit is None:
            stream, fields = audit_log.intent_of(generation)
            stored, intent = cache.add_with_intent(address.key, image, stream=stream, fields=fields)
        else:
            stored = cache.add(address.key, image)
    except cache.CacheUnavailable:
        stored = bypassed = True
    if stored:
        GENERATIONS.labels(origin).inc()
        if audit is None:
            audit_writer.record_miss(generation, intent)  # behind the answer, with an intent
        else:
            audit.add(generation)
    return image, stored, bypassed
