"""The benches' own PostgreSQL databases: each bench creates its database when it is
missing, so `make bench` runs on a fresh machine without a `createdb` first."""

from __future__ import annotations

from urllib.parse import urlsplit


def create_database_if_missing(database_url: str) -> None:
    """CREATE DATABASE for `database_url`'s database unless the server has it already."""
    import psycopg2
    from psycopg2 import sql

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    server = psycopg2.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password,
        dbname="postgres",
        connect_timeout=5,
    )
    try:
        server.autocommit = True
        with server.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                print(f"Creating database {name}")
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        server.close()
