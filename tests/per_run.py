"""What keeps one test run out of another's way on a shared PostgreSQL and Redis.

identidock/settings_test.py gives every run a token, IDENTIDOCK_TEST_RUN: the run's
test database is `test_identidock_<token>[_gw<N>]` and its monster cache keys start
with `test-<token>[-gw<N>]:`. Tests delete only the keys under their own prefix (SCAN
and DEL), never FLUSHDB, and pytest-django drops the run's database when it ends.

A run that is killed cannot clean up after itself, so the run's first process holds a
PostgreSQL advisory lock on its token for as long as it lives, and every run starts by
sweeping away the databases and cache keys of runs whose lock is free: runs that died.
A run still going holds its lock, and its data is left alone.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import psycopg2
from django.conf import settings
from django.core.cache import caches
from django_redis import get_redis_connection
from django_redis.cache import RedisCache
from psycopg2 import sql
from psycopg2.extensions import connection as Connection

DATABASE = re.compile(r"test_identidock_(?P<token>[0-9a-f]{8})(?:_gw\d+)?")
CACHE_KEY = re.compile(rb"test-(?P<token>[0-9a-f]{8})(?:-gw\d+)?:")
LOCK_CLASS = 0x1D0C  # the advisory lock namespace of Identidock's test runs

_held: Connection | None = None


def token() -> str:
    return str(settings.TEST_RUN)


def cache_key_prefix() -> str:
    prefix = caches["monsters"].key_prefix
    assert prefix.startswith("test-"), f"not a test run's cache key prefix: {prefix!r}"
    return prefix


def empty_monster_cache() -> None:
    """Delete this run's monster cache entries, and only those."""
    cache_key_prefix()  # with no prefix, "*" would be every key in the database
    cache = caches["monsters"]
    assert isinstance(cache, RedisCache), "the tests run against Redis"
    cache.delete_pattern("*", itersize=1000)


def cached_keys() -> list[bytes]:
    """The Redis keys this run has in the monster cache now."""
    redis = get_redis_connection("monsters")
    return list(redis.scan_iter(match=f"{cache_key_prefix()}:*", count=1000))


def _lock_id(run: str) -> int:
    """The token's 32 bits as PostgreSQL's signed int4."""
    value = int(run, 16)
    return value - 2**32 if value >= 2**31 else value


def _connect() -> Connection:
    db = settings.DATABASES["default"]
    connection = psycopg2.connect(
        dbname="postgres",
        user=db["USER"],
        password=db["PASSWORD"],
        host=db["HOST"],
        port=db["PORT"] or 5432,
        connect_timeout=5,
    )
    connection.autocommit = True
    return connection


def _try_lock(cursor: psycopg2.extensions.cursor, run: str) -> bool:
    cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, _lock_id(run)))
    row = cursor.fetchone()
    return bool(row and row[0])


def _unlock(cursor: psycopg2.extensions.cursor, run: str) -> None:
    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, _lock_id(run)))


def hold_run_lock() -> None:
    """Take this run's lock, held until `release_run_lock()` or this process's end."""
    global _held
    if _held is None:
        _held = _connect()
        with _held.cursor() as cursor:
            assert _try_lock(cursor, token()), f"test run {token()} is already running"


def release_run_lock() -> None:
    global _held
    if _held is not None:
        _held.close()
        _held = None


def _database_runs(cursor: psycopg2.extensions.cursor) -> dict[str, str]:
    """Test databases of this scheme on the server: name -> run token."""
    cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE 'test\\_identidock\\_%'")
    names = (name for (name,) in cursor.fetchall())
    return {m.string: m["token"] for name in names if (m := DATABASE.fullmatch(name))}


def _cache_runs() -> Iterator[tuple[bytes, str]]:
    redis = get_redis_connection("monsters")
    for key in redis.scan_iter(match="test-*", count=1000):
        if match := CACHE_KEY.match(key):
            yield key, match["token"].decode()


def sweep_abandoned_runs() -> list[str]:
    """Drop the databases and cache keys of runs that ended without cleaning up.

    Returns the tokens of the runs swept. A run whose lock is held is running: skipped.
    This run's own data is never swept, whichever process holds its lock.
    """
    # Not `with connection`: that would open a transaction, and DROP DATABASE runs outside one.
    with contextlib.closing(_connect()) as connection, connection.cursor() as cursor:
        databases = _database_runs(cursor)
        keys: dict[str, list[bytes]] = {}
        for key, run in _cache_runs():
            keys.setdefault(run, []).append(key)
        swept = []
        for run in sorted((set(databases.values()) | set(keys)) - {token()}):
            if not _try_lock(cursor, run):
                continue  # alive
            try:
                for name in (name for name, owner in databases.items() if owner == run):
                    cursor.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(name)
                        )
                    )
                stale = keys.get(run, [])
                for start in range(0, len(stale), 1000):
                    get_redis_connection("monsters").delete(*stale[start : start + 1000])
                swept.append(run)
            finally:
                _unlock(cursor, run)
    return swept
