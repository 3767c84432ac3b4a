"""The `monsters` cache alias, built from settings already read (settings.py reads the
environment; this only shapes django-redis's configuration from it)."""

from __future__ import annotations

from typing import Any


def monster_cache(
    *,
    redis_url: str,
    sentinels: list[tuple[str, int]],
    sentinel_service: str,
    connect_timeout: float,
    timeout: float,
    key_prefix: str,
) -> dict[str, Any]:
    """One Redis server at `redis_url`, or the primary the `sentinels` name, or local
    memory when neither is given."""
    if not (redis_url or sentinels):
        return {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "identidock-monsters",
            "TIMEOUT": None,
            "KEY_PREFIX": key_prefix,
            "KEY_FUNCTION": "monsters.guards.cache.make_key",
            "OPTIONS": {"MAX_ENTRIES": 10_000},
        }
    options: dict[str, object] = {
        "CLIENT_CLASS": "django_redis.client.DefaultClient",
        "SOCKET_CONNECT_TIMEOUT": connect_timeout,
        "SOCKET_TIMEOUT": timeout,
    }
    if sentinels:
        # django-redis's Sentinel client: writes go to the primary the sentinels name,
        # reads to a replica (the primary when none is up); after a failover both pools
        # ask the sentinels again. The factory is this cache's own option rather than
        # DJANGO_REDIS_CONNECTION_FACTORY, which would apply to every django-redis cache.
        options |= {
            "CLIENT_CLASS": "django_redis.client.SentinelClient",
            "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
            "SENTINELS": sentinels,
            # Asking the sentinels is bounded by the same timeouts as Redis itself.
            "SENTINEL_KWARGS": {
                "socket_connect_timeout": connect_timeout,
                "socket_timeout": timeout,
            },
        }
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        # With Sentinel the host part names the master (the service), not a machine.
        "LOCATION": redis_url or f"redis://{sentinel_service}/0",
        "TIMEOUT": None,  # no expiry: Redis evicts least-recently-used entries
        "KEY_PREFIX": key_prefix,
        "KEY_FUNCTION": "monsters.guards.cache.make_key",
        "OPTIONS": options,
    }
