"""bench/databases.py: a bench creates its own database when the server lacks it."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
from django.conf import settings

from bench.databases import create_database_if_missing


def _server() -> psycopg2.extensions.connection:
    parts = urlsplit(os.environ["DATABASE_URL"])
    server = psycopg2.connect(
        host=parts.hostname, port=parts.port or 5432, user=parts.username, dbname="postgres"
    )
    server.autocommit = True
    return server


def _exists(name: str) -> bool:
    server = _server()
    try:
        with server.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            return cursor.fetchone() is not None
    finally:
        server.close()


@pytest.fixture
def bench_database_url():
    name = f"identidock_bench_test_{settings.TEST_RUN}_{os.environ.get('PYTEST_XDIST_WORKER', '')}"
    parts = urlsplit(os.environ["DATABASE_URL"])
    yield urlunsplit(parts._replace(path=f"/{name}")), name
    server = _server()
    try:
        with server.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        server.close()


def test_a_missing_bench_database_is_created_and_an_existing_one_kept(bench_database_url):
    url, name = bench_database_url
    assert not _exists(name)
    create_database_if_missing(url)
    assert _exists(name)
    create_database_if_missing(url)  # a second bench run finds it there
    assert _exists(name)
