"""The monster cache: a bounded in-process tier in front of Django's cache alias
`monsters` (django-redis in production).

A thin layer: whole PNGs in, whole PNGs out, by keys that only `service` builds.
The bytes at a key never change (the key names everything that decides them), so each
process may keep the most recently used ones in memory, up to MONSTER_PROCESS_CACHE_MB,
and answer a hit without a network round trip; `0` turns the tier off. Entries in Redis
never expire; Redis evicts by LRU. Every Redis call goes through a breaker: an
unreachable Redis raises CacheUnavailable (the service answers without the cache,
X-Cache: BYPASS), and after repeated failures it is skipped without a timeout per
request until a probe finds it back. With Sentinel, writes (to the primary) and reads
(from a replica) have a breaker each, so a failover of the primary leaves hits alone.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import redis
from cachetools import LRUCache
from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.locmem import LocMemCache
from django_redis import get_redis_connection
from django_redis.cache import RedisCache
from django_redis.exceptions import ConnectionInterrupted
from redis.commands.core import Script

from monsters.guards.breaker import Breaker, breaker_for
from monsters.metrics import CACHE_LOOKUPS
from monsters.per_settings import per_settings

T = TypeVar("T")

# The counters of the hot path, resolved once.
_PROCESS_HIT = CACHE_LOOKUPS.labels("process", "hit")
_PROCESS_MISS = CACHE_LOOKUPS.labels("process", "miss")
_REDIS_HIT = CACHE_LOOKUPS.labels("redis", "hit")
_REDIS_MISS = CACHE_LOOKUPS.labels("redis", "miss")
_REDIS_BYPASS = CACHE_LOOKUPS.labels("redis", "bypass")

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


@per_settings
def process_tier() -> ProcessTier | None:
    """This process's tier, sized by the settings (None when they turn it off)."""
    megabytes: int = settings.MONSTER_PROCESS_CACHE_MB
    return ProcessTier(megabytes) if megabytes else None


class CacheUnavailable(Exception):
    """Redis did not answer in time, or is being skipped while its breaker is open."""


def monster_cache() -> BaseCache:
    return caches[CACHE_ALIAS]


def _breaker(backend: BaseCache, *, writes: bool) -> Breaker | None:
    if not isinstance(backend, RedisCache):
        return None  # local memory lives in this process: it cannot be down
    return breaker_for(
        f"Redis cache {_address(writes=writes)}",
        failures_to_open=settings.BREAKER_FAILURES,
        cool_down=settings.BREAKER_COOL_DOWN,
    )


@per_settings
def _address(*, writes: bool) -> str:
    """Where the cache is, for its breakers' names and the log.

    One server: its URL, and one breaker for reads and writes, which fail together.
    Sentinel: writes go to the primary and reads to a replica, which fail apart (a dead
    primary leaves the replica answering until it is promoted), so each has a breaker:
    failed writes during a failover do not turn hits into renders. Never the current
    primary's address: a failover neither resets a breaker nor makes another."""
    config: dict[str, Any] = settings.CACHES[CACHE_ALIAS]
    sentinels = config.get("OPTIONS", {}).get("SENTINELS")
    if not sentinels:
        return str(config["LOCATION"])
    where = ",".join(f"{host}:{port}" for host, port in sentinels)
    side = "writes to the primary" if writes else "reads from a replica"
    return f"{config['LOCATION']} ({side}) via Sentinel {where}"


def guarded(operation: Callable[[BaseCache], T], *, writes: bool) -> T:
    """Run one backend operation behind the Redis breaker (for `writes` or for reads):
    a failure or an open breaker is a CacheUnavailable, raised at once. Only a read
    whose connection was closed under it is tried once more (`_run`)."""
    backend = monster_cache()
    breaker = _breaker(backend, writes=writes)
    if breaker is None:
        return operation(backend)
    if not breaker.allow():
        raise CacheUnavailable("the cache is being skipped after repeated failures")
    try:
        result = _run(operation, backend, retry=not writes)
    except (redis.RedisError, ConnectionInterrupted, OSError) as exc:
        breaker.failed()
        raise CacheUnavailable(f"the cache did not answer ({type(exc).__name__})") from exc
    breaker.succeeded()
    return result


def _run(operation: Callable[[BaseCache], T], backend: BaseCache, *, retry: bool) -> T:
    """`operation`, and with `retry` once more on a fresh connection when the first
    failed for want of one (redis-py's ConnectionError: closed under it, or refused).

    Sentinel closes every client's connection to a replica it promotes and to a primary
    it demotes. The pool checks idle connections before lending them, so only a command
    in flight at that moment fails, and the replica (now primary) answers it at once.
    Only reads are retried: a SET NX sent twice could report an image it stored as
    another writer's, which would cost its audit row. Timeouts never are: that would
    double the wait the settings bound."""
    try:
        return operation(backend)
    except (redis.ConnectionError, ConnectionInterrupted) as exc:
        cause = exc.__cause__ if isinstance(exc, ConnectionInterrupted) else exc
        if not (retry and isinstance(cause, redis.ConnectionError)):
            raise
    return operation(backend)


def get(key: str) -> bytes | None:
    """The PNG at `key`: from this process's tier, else one GET (which then fills the
    tier). None on a miss; CacheUnavailable when Redis cannot answer."""
    tier = process_tier()
    if tier is not None:
        if (png := tier.get(key)) is not None:
            _PROCESS_HIT.inc()
            return png
        _PROCESS_MISS.inc()
    try:
        png = cast("bytes | None", guarded(lambda backend: backend.get(key), writes=False))
    except CacheUnavailable:
        _REDIS_BYPASS.inc()
        raise
    if png is None:
        _REDIS_MISS.inc()
        return None
    _REDIS_HIT.inc()
    if tier is not None:
        tier.put(key, png)
    return png


def get_many(keys: list[str]) -> dict[str, bytes]:
    """The entries present among `keys`, in one round trip."""
    if not keys:
        return {}
    return guarded(lambda backend: backend.get_many(keys), writes=False)


def add(key: str, png: bytes) -> bool:
    """SET NX; False only when another writer stored the key first. This process's
    tier keeps the PNG either way, so with Redis down it is still served again."""
    try:
        stored = guarded(lambda backend: backend.add(key, png, timeout=None), writes=True)
    finally:
        if (tier := process_tier()) is not None:
            tier.put(key, png)
    return stored is not False


# KEYS[1]: the image's key, KEYS[2]: a stream; ARGV[1]: the encoded image, then the
# stream entry's field/value pairs. The entry is added only with the image, atomically.
_ADD_WITH_INTENT = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  return redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))
end
return false
"""


def add_with_intent(
    key: str, image: bytes, *, stream: str, fields: dict[str, str]
) -> tuple[bool, str | None]:
    """SET NX, and in the same atomic step, only if it stored the image, an entry in
    `stream` (the audit row to come): a process that dies before writing the row leaves
    the entry for another to replay. Returns (stored, the entry's id). Without Redis
    there is no stream: as `add`, with no entry."""
    backend = monster_cache()
    if not isinstance(backend, RedisCache):
        return add(key, image), None
    keys = [str(backend.make_key(key)), str(backend.make_key(stream))]
    args = [backend.client.encode(image), *(item for pair in fields.items() for item in pair)]

    def run(_: BaseCache) -> Any:
        client = get_redis_connection(CACHE_ALIAS)
        return _script(_ADD_WITH_INTENT)(keys=keys, args=args, client=client)

    try:
        entry_id = guarded(run, writes=True)
    finally:
        if (tier := process_tier()) is not None:
            tier.put(key, image)
    if entry_id is None:
        return False, None
    return True, entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def replace(key: str, png: bytes) -> None:
    """SET, whatever is there."""
    try:
        guarded(lambda backend: backend.set(key, png, timeout=None), writes=True)
    finally:
        if (tier := process_tier()) is not None:
            tier.put(key, png)


def delete_many(keys: list[str]) -> None:
    """Delete `keys` in one round trip; keys that are not cached are ignored.

    Other processes' tiers keep their copies until they age out: harmless, since the
    bytes at a key never change."""
    if not keys:
        return
    if (tier := process_tier()) is not None:
        tier.discard(keys)
    guarded(lambda backend: backend.delete_many(keys), writes=True)


class NoScripting(Exception):
    """The cache is local memory: no Redis to run a script in."""


def run_script(script: str, *, keys: list[str], args: Sequence[float | str]) -> list[int]:
    """Run a Lua script in the cache's Redis (keys get the cache's prefix), behind the
    breaker. NoScripting without Redis, CacheUnavailable when Redis cannot answer."""
    backend = monster_cache()
    if not isinstance(backend, RedisCache):
        raise NoScripting
    prefixed = [str(backend.make_key(key)) for key in keys]

    def run(_: BaseCache) -> list[int]:
        client = get_redis_connection(CACHE_ALIAS)
        return [int(value) for value in _script(script)(keys=prefixed, args=args, client=client)]

    return guarded(run, writes=True)  # the scripts here write (the rate limiter's do)


@functools.cache
def _script(source: str) -> Script:
    """`source` as redis-py's Script, run by its SHA1 (EVALSHA): a call sends the hash,
    not the whole script, and Redis does not hash the script again on every call. A
    server that does not know it (restarted, or newly promoted) is sent it once more by
    redis-py. Each call names its client: the one registered first may be gone."""
    return cast(Script, get_redis_connection(CACHE_ALIAS).register_script(source))


def backend_name() -> str:
    """What holds the monsters: "redis", "local-memory", or the backend's class name."""
    backend = monster_cache()
    if isinstance(backend, RedisCache):
        return "redis"
    if isinstance(backend, LocMemCache):
        return "local-memory"
    return type(backend).__name__


def ping() -> None:
    """One Redis PING, raising `redis.RedisError` when Redis does not answer.

    Straight through the client, past the breaker: the readiness probe asks whether
    Redis answers now. A local-memory cache lives in this process: nothing to ping.
    """
    if isinstance(monster_cache(), RedisCache):
        get_redis_connection(CACHE_ALIAS).ping()


def answers(probe_key: str) -> bool:
    """False when the cache cannot be reached. Reads `probe_key`, writes nothing."""
    try:
        guarded(lambda backend: backend.has_key(probe_key), writes=False)
    except CacheUnavailable:
        return False
    return True


def is_process_local() -> bool:
    """True when the cache lives in this process's memory (no REDIS_URL)."""
    return isinstance(monster_cache(), LocMemCache)
