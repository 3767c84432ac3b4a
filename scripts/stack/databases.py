"""Databases on the local PostgreSQL server: `make stack`'s own, and the test's scratch one.

libpq reads the URL (psycopg2's `parse_dsn`, and `connect` with `dbname` overriding the
URL's), so query parameters and percent-escapes mean what they mean to Django. CREATE
and DROP DATABASE take an identifier, which no query parameter can carry: psycopg2's
`sql` composes and quotes it.
"""

from __future__ import annotations

import secrets
import urllib.parse
from contextlib import closing
from typing import Any

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import parse_dsn

from scripts.stack import StackError

CONNECT_TIMEOUT_SECONDS = 5


def _database_name(database_url: str) -> str:
    name = parse_dsn(database_url).get("dbname")
    if not name:
        raise StackError(f"{database_url} names no database")
    return str(name)


def _run_maintenance(database_url: str, statement: sql.Composable) -> list[tuple[Any, ...]]:
    """Run `statement` on the server's `postgres` database, outside any transaction."""
    connection = psycopg2.connect(
        database_url, dbname="postgres", connect_timeout=CONNECT_TIMEOUT_SECONDS
    )
    with closing(connection):
        connection.autocommit = True  # CREATE / DROP DATABASE refuse to run in a transaction
        with connection.cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchall() if cursor.description else []


def database_exists(database_url: str) -> bool:
    statement = sql.SQL("SELECT 1 FROM pg_database WHERE datname = {}").format(
        sql.Literal(_database_name(database_url))
    )
    return bool(_run_maintenance(database_url, statement))


def create_database(database_url: str) -> None:
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(_database_name(database_url)))
    _run_maintenance(database_url, statement)


def drop_database(database_url: str) -> None:
    statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
        sql.Identifier(_database_name(database_url))
    )
    _run_maintenance(database_url, statement)


def scratch_database_url(server_url: str, prefix: str = "test_identidock_stack") -> str:
    """A database URL on `server_url`'s server with a fresh, random database name."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    return urllib.parse.urlsplit(server_url)._replace(path=f"/{name}").geturl()
