"""Two test runs on one machine share PostgreSQL and Redis and never touch each other's data."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator

import pytest
from django.core.cache import caches
from django.db import connection
from django_redis import get_redis_connection
from psycopg2 import sql

from monsters.guards import cache
from monsters.images import keys
from tests import per_run


def _other_token() -> str:
    while (token := secrets.token_hex(4)) == per_run.token():
        pass
    return token


def _maintenance(statement: str, name: str) -> None:
    with contextlib.closing(per_run._connect()) as maintenance, maintenance.cursor() as cursor:
        cursor.execute(sql.SQL(statement).format(sql.Identifier(name)))


@contextlib.contextmanager
def _database(name: str) -> Iterator[str]:
    _maintenance("CREATE DATABASE {}", name)
    try:
        yield name
    finally:
        _maintenance("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)


def _database_exists(name: str) -> bool:
    with contextlib.closing(per_run._connect()) as maintenance, maintenance.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return cursor.fetchone() is not None


@contextlib.contextmanager
def _running(token: str) -> Iterator[None]:
    """Another run that is alive: it holds its lock."""
    holder = per_run._connect()
    try:
        with holder.cursor() as cursor:
            assert per_run._try_lock(cursor, token)
        yield
    finally:
        holder.close()


@pytest.mark.django_db
def test_the_run_has_a_test_database_of_its_own():
    name = connection.settings_dict["NAME"]
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    assert name == f"test_identidock_{per_run.token()}" + (f"_{worker}" if worker else "")


def test_the_runs_monsters_are_cached_under_a_prefix_of_its_own():
    key = keys.monster_key(revision="builtin-r1", size=80, name_hash="a" * 64)
    cache.add(key, b"png")
    assert per_run.cached_keys() == [f"{per_run.cache_key_prefix()}:{key}".encode()]


def test_emptying_the_cache_leaves_another_runs_monsters_alone():
    other = f"test-{_other_token()}:monster:v1:builtin-r1:80:{'b' * 64}"
    redis = get_redis_connection("monsters")
    redis.set(other, b"png")
    try:
        cache.add(keys.monster_key(revision="builtin-r1", size=80, name_hash="a" * 64), b"png")
        per_run.empty_monster_cache()
        assert per_run.cached_keys() == []
        assert redis.get(other) == b"png"
    finally:
        redis.delete(other)


def test_a_killed_runs_database_and_monsters_are_swept_away():
    token = _other_token()
    redis = get_redis_connection("monsters")
    key = f"test-{token}-gw1:monster:v1:builtin:80:{'c' * 64}"
    redis.set(key, b"png")
    with _database(f"test_identidock_{token}_gw1") as name:
        assert token in per_run.sweep_abandoned_runs()
        assert not _database_exists(name)
    assert redis.exists(key) == 0


def test_a_running_runs_database_and_monsters_are_left_alone():
    token = _other_token()
    redis = get_redis_connection("monsters")
    key = f"test-{token}:monster:v1:builtin:80:{'d' * 64}"
    redis.set(key, b"png")
    try:
        with _running(token), _database(f"test_identidock_{token}") as name:
            assert token not in per_run.sweep_abandoned_runs()
            assert _database_exists(name)
            assert redis.get(key) == b"png"
    finally:
        redis.delete(key)


@pytest.mark.django_db
def test_the_runs_own_database_and_monsters_are_never_swept():
    cache.add(keys.monster_key(revision="builtin-r1", size=80, name_hash="e" * 64), b"png")
    assert per_run.token() not in per_run.sweep_abandoned_runs()
    assert _database_exists(connection.settings_dict["NAME"])
    assert len(per_run.cached_keys()) == 1


def test_databases_of_other_names_are_never_swept():
    with _database(f"test_identidock_stack_{_other_token()}") as name:
        per_run.sweep_abandoned_runs()
        assert _database_exists(name)


def test_a_deployments_cache_key_prefix_keeps_its_monsters_apart(settings):
    key = keys.monster_key(revision="builtin-r1", size=80, name_hash="f" * 64)
    cache.add(key, b"ours")
    settings.CACHES = {
        **settings.CACHES,
        "monsters": {**settings.CACHES["monsters"], "KEY_PREFIX": f"test-{_other_token()}"},
    }
    try:
        assert cache.get(key) is None
        cache.add(key, b"theirs")
        assert cache.get(key) == b"theirs"
    finally:
        caches["monsters"].delete(key)
