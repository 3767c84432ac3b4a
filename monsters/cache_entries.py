"""Cache entries of monsters that were generated before: which are cached, warm, evict.

Staff act on audit-log rows; a row names a (hash, size) pair, and these functions turn
pairs into the cache keys of the renderer configured now. Warming goes through
`service.get_identicon`, so a warmed monster is cached and recorded exactly as a web
request would do it; presence and eviction use one cache round trip each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from . import cache, service, sources
from .models import Generation

Entry = tuple[str, int]  # (hash, size)


@dataclass(frozen=True)
class WarmReport:
    warmed: int = 0
    already_cached: int = 0
    failed: int = 0
    problems: list[str] = field(default_factory=list)  # distinct renderer errors, in order


@dataclass(frozen=True)
class EvictReport:
    evicted: int
    not_cached: int


def _keys(entries: Iterable[Entry]) -> dict[str, Entry]:
    """Cache key -> entry, one per distinct entry, in the order given."""
    namespace = sources.get_source().cache_namespace
    return {
        cache.monster_key(source=namespace, size=size, identifier=name_hash): (name_hash, size)
        for name_hash, size in entries
    }


def cached_entries(*, entries: Iterable[Entry]) -> set[Entry]:
    """The entries among `entries` that are in the cache now, in one round trip."""
    return service.cached_identicons(entries)


def warm_entries(*, entries: Iterable[Entry], origin: str = Generation.Origin.ADMIN) -> WarmReport:
    """Generate and cache the entries that are missing, recording each under `origin`.

    A renderer that is down or too slow fails every entry the same way, so after the
    first refusal or timeout the rest are counted as failed without asking again:
    a request never waits for a timeout per entry.
    """
    distinct = list(dict.fromkeys(entries))
    present = service.cached_identicons(distinct)
    missing = [entry for entry in distinct if entry not in present]
    warmed = already_cached = failed = 0
    problems: list[str] = []
    for position, (name_hash, size) in enumerate(missing):
        try:
            identicon = service.get_identicon(identifier=name_hash, size=size, origin=origin)
        except sources.SourceError as exc:
            failed += 1
            if str(exc) not in problems:
                problems.append(str(exc))
            if isinstance(exc, sources.SourceUnavailable | sources.SourceTimeout):
                failed += len(missing) - position - 1
                break
            continue
        if identicon.cache_hit:  # cached by someone else since we looked
            already_cached += 1
        else:
            warmed += 1
    return WarmReport(
        warmed=warmed,
        already_cached=len(present) + already_cached,
        failed=failed,
        problems=problems,
    )


def evict_entries(*, entries: Iterable[Entry]) -> EvictReport:
    """Delete the cache entries of `entries`. The audit log keeps its rows."""
    keys = _keys(entries)
    present = list(cache.get_many_png(list(keys)))
    cache.delete_many_png(present)
    return EvictReport(evicted=len(present), not_cached=len(keys) - len(present))
