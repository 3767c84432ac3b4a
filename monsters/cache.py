"""The monster cache: Django's cache alias `monsters` (django-redis in production).

A thin layer over the backend: whole PNGs in, whole PNGs out, by keys that only
`service` builds. Entries never expire; Redis evicts by LRU. With django-redis's
IGNORE_EXCEPTIONS an unreachable Redis reads as a miss and writes as a no-op.
"""

from __future__ import annotations

from typing import cast

from django.core.cache import BaseCache, caches
from django.core.cache.backends.locmem import LocMemCache
from django_redis import get_redis_connection
from django_redis.cache import RedisCache

CACHE_ALIAS = "monsters"


def make_key(key: str, key_prefix: str, version: int) -> str:
    """Django KEY_FUNCTION: keep our keys readable in `redis-cli` (no `:1:` prefix)."""
    return f"{key_prefix}:{key}" if key_prefix else key


def _backend() -> BaseCache:
    return caches[CACHE_ALIAS]


def get(key: str) -> bytes | None:
    """One GET. None on a miss, and also when the cache is unreachable."""
    return cast("bytes | None", _backend().get(key))


def get_many(keys: list[str]) -> dict[str, bytes]:
    """The entries present among `keys`, in one round trip."""
    return _backend().get_many(keys) if keys else {}


def add(key: str, png: bytes) -> bool:
    """SET NX; False only when another writer stored the key first.

    An unreachable cache answers None (django-redis): nothing was stored, but nobody
    else stored it either, so the caller's image still counts as generated.
    """
    return _backend().add(key, png, timeout=None) is not False


def replace(key: str, png: bytes) -> None:
    """SET, whatever is there."""
    _backend().set(key, png, timeout=None)


def delete_many(keys: list[str]) -> None:
    """Delete `keys` in one round trip; keys that are not cached are ignored."""
    if keys:
        _backend().delete_many(keys)


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
