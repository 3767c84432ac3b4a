"""The monster cache: Django's cache alias `monsters` (django-redis in production).

Only this module builds keys. A key names everything that decides the bytes, so an
entry can never be served for the wrong source, renderer revision or size:
`monster:v1:<source>:<size>:<hash>`. Entries never expire; Redis evicts by LRU.
"""

from __future__ import annotations

from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django_redis import get_redis_connection
from django_redis.cache import RedisCache

CACHE_ALIAS = "monsters"
KEY_SCHEMA = "v1"


def make_key(key: str, key_prefix: str, version: int) -> str:
    """Django KEY_FUNCTION: keep our keys readable in `redis-cli` (no `:1:` prefix)."""
    return f"{key_prefix}:{key}" if key_prefix else key


def monster_key(*, source: str, size: int, identifier: str) -> str:
    return f"monster:{KEY_SCHEMA}:{source}:{size}:{identifier}"


def _cache():
    return caches[CACHE_ALIAS]


def get_png(key: str) -> bytes | None:
    """One cache GET. None on a miss, and also when the cache is unreachable."""
    return _cache().get(key)


def get_many_png(keys: list[str]) -> dict[str, bytes]:
    """The entries present among `keys`, in one round trip."""
    return _cache().get_many(keys)


def store_png(key: str, png: bytes, *, overwrite: bool = False) -> bool:
    """Store a freshly generated PNG; False only when another writer stored it first.

    `add` is SET NX, so of two concurrent renders of one key exactly one counts as
    the generation. With the cache unreachable django-redis answers None: the image
    was still generated, so that counts too.
    """
    if overwrite:
        _cache().set(key, png, timeout=None)
        return True
    return _cache().add(key, png, timeout=None) is not False


def delete_png(key: str) -> bool:
    return bool(_cache().delete(key))


def delete_many_png(keys: list[str]) -> None:
    """Delete `keys` in one round trip; keys that are not cached are ignored."""
    if keys:
        _cache().delete_many(keys)


def backend_name() -> str:
    """What holds the monsters: "redis", "local-memory", or the backend's class name."""
    backend = _cache()
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
    if isinstance(_cache(), RedisCache):
        get_redis_connection(CACHE_ALIAS).ping()


def is_reachable() -> bool:
    """False when the cache cannot be reached. Reads one key and writes nothing.

    django-redis with IGNORE_EXCEPTIONS answers None instead of raising; any backend
    that can answer says True or False.
    """
    return _cache().has_key(f"monster:{KEY_SCHEMA}:probe") is not None


def is_process_local() -> bool:
    """True when the cache lives in this process's memory (no REDIS_URL): what a
    command stores there is gone when the command exits."""
    return isinstance(_cache(), LocMemCache)
