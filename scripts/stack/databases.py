"""Databases on the local PostgreSQL server: `make stack`'s own, and the test's scratch one.

CREATE and DROP DATABASE name an identifier, which no query parameter can carry, so the
statements are composed with psycopg2's `sql`, which quotes it.
"""

from __future__ import annotations

import secrets
import urllib.parse

import psycopg2
from psycopg2 import sql


def _maintenance_dsn(database_url: str) -> str:
    return urllib.parse.urlsplit(database_url)._replace(path="/postgres").geturl()


def _database_name(database_url: str) -> str:
    return urllib.parse.urlsplit(database_url).path.lstrip("/")


def _run_maintenance(database_url: str, statement: sql.Composable) -> list[tuple]:
    connection = psycopg2.connect(_maintenance_dsn(database_url), connect_timeout=5)
    try:
        connection.autocommit = True  # CREATE / DROP DATABASE refuse to run in a transaction
        with connection.cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


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
