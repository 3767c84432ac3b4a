"""The monster cache: a bounded in-process tier in front of Django's cache alias
`monsters` (django-redis in production).

A thin layer: whole PNGs in, whole PNGs out, by keys that only `service` builds.
The bytes at a key never change (the key names everything that decides them), so each
process may keep the most recently used ones in memory, up to MONSTER_PROCESS_CACHE_MB,
and answer a hit without a network round trip; `0` turns the tier off. Entries in Redis
never expire; Redis evicts by LRU. With django-redis's IGNORE_EXCEPTIONS an unreachable
Redis reads as a miss and writes as a no-op.
"""

from __future__ import annotations

import threading
from typing import cast

from cachetools import LRUCache
from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.locmem import LocMemCache
from django_redis import get_redis_connection
from django_redis.cache import RedisCache

CACHE_ALIAS = "monsters"


def make_key(key: str, key_prefix: str, version: int) -> str:
    """Django KEY_FUNCTION: keep our keys readable in `redis-cli` (no `:1:` prefix)."""
    return f"{key_prefix}:{key}" if key_prefix else key


class ProcessTier:
    """A size-bounded, thread-safe LRU of PNGs in this process's memory, with counts."""

    def __init__(self, megabytes: int) -> None:
        self.megabytes = megabytes
        self._entries: LRUCache[str, bytes] = LRUCache(
            maxsize=megabytes * 1024 * 1024, getsizeof=len
        )
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> bytes | None:
        with self._lock:
            png = self._entries.get(key)
            if png is None:
                self.misses += 1
            else:
                self.hits += 1
            return png

    def put(self, key: str, png: bytes) -> None:
        if len(png) <= self._entries.maxsize:
            with self._lock:
                self._entries[key] = png

    def discard(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)


_tier: ProcessTier | None = None
_tier_lock = threading.Lock()


def process_tier() -> ProcessTier | None:
    """This process's tier, sized by the settings (None when they turn it off)."""
    global _tier
    megabytes: int = settings.MONSTER_PROCESS_CACHE_MB
    tier = _tier
    if tier is not None and tier.megabytes == megabytes:
        return tier
    with _tier_lock:
        if _tier is None or _tier.megabytes != megabytes:
            _tier = ProcessTier(megabytes) if megabytes else None
        return _tier


def _backend() -> BaseCache:
    return caches[CACHE_ALIAS]


def get(key: str) -> bytes | None:
    """The PNG at `key`: from this process's tier, else one GET (which then fills the
    tier). None on a miss, and also when the cache is unreachable."""
    tier = process_tier()
    if tier is not None and (png := tier.get(key)) is not None:
        return png
    png = cast("bytes | None", _backend().get(key))
    if tier is not None and png is not None:
        tier.put(key, png)
    return png


def get_many(keys: list[str]) -> dict[str, bytes]:
    """The entries present among `keys`, in one round trip."""
    return _backend().get_many(keys) if keys else {}


def add(key: str, png: bytes) -> bool:
    """SET NX; False only when another writer stored the key first.

    An unreachable cache answers None (django-redis): nothing was stored, but nobody
    else stored it either, so the caller's image still counts as generated.
    """
    stored = _backend().add(key, png, timeout=None) is not False
    if stored and (tier := process_tier()) is not None:
        tier.put(key, png)
    return stored


def replace(key: str, png: bytes) -> None:
    """SET, whatever is there."""
    _backend().set(key, png, timeout=None)
    if (tier := process_tier()) is not None:
        tier.put(key, png)


def delete_many(keys: list[str]) -> None:
    """Delete `keys` in one round trip; keys that are not cached are ignored.

    Other processes' tiers keep their copies until they age out: harmless, since the
    bytes at a key never change."""
    if keys:
        _backend().delete_many(keys)
        if (tier := process_tier()) is not None:
            tier.discard(keys)


def backend_name() -> str:
    """What holds the monsters: "redis", "local-memory", or the backend's class name."""
    backend = _backend()
    if isinstance(backend, RedisCache):
        return "redis"
    if isinstance(backend, LocMemCache):
        return "local-memory"
    return type(backend).__name__


def ping() -> None:
    """One Redis PING, raising `redis.RedisError` when Redis does not answer.

    Straight through the client, because the cache methods swallow errors
    (IGNORE_EXCEPTIONS). A local-memory cache lives in this process: nothing to ping.
    """
    if isinstance(_backend(), RedisCache):
        get_redis_connection(CACHE_ALIAS).ping()


def answers(probe_key: str) -> bool:
    """False when the cache cannot be reached. Reads `probe_key`, writes nothing.

    django-redis with IGNORE_EXCEPTIONS answers None instead of raising; any backend
    that can answer says True or False.
    """
    return _backend().has_key(probe_key) is not None


def is_process_local() -> bool:
    """True when the cache lives in this process's memory (no REDIS_URL)."""
    return isinstance(_backend(), LocMemCache)
