"""The benches' own PostgreSQL databases: each bench creates its database when it is
missing, so `make bench` runs on a fresh machine without a `createdb` first."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def connect(database_url: str, dbname: str | None = None) -> Any:
    """A psycopg2 connection to `database_url` (or to `dbname` on the same server)."""
    import psycopg2

    parts = urlsplit(database_url)
    return psycopg2.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password,
        dbname=dbname or parts.path.lstrip("/"),
        connect_timeout=5,
    )


def create_database_if_missing(database_url: str) -> None:
    """CREATE DATABASE for `database_url`'s database unless the server has it already."""
    from psycopg2 import sql

    name = urlsplit(database_url).path.lstrip("/")
    server = connect(database_url, dbname="postgres")
    try:
        server.autocommit = True
        with server.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                print(f"Creating database {name}")
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        server.close()


def audit_rows(database_url: str) -> int:
    """Rows in the audit log: each is a generation, so a cache miss."""
    connection = connect(database_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM monsters_generation")
            return int(cursor.fetchone()[0])
    finally:
        connection.close()
