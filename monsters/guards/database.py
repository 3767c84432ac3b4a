"""Every wait on PostgreSQL bounded on the client side, whatever the server does.

PostgreSQL's `statement_timeout` is enforced by the server and libpq's `connect_timeout`
only while connecting; `keepalives*` and `tcp_user_timeout` (settings.py) end a
connection whose network is dead, but not one whose peer's kernel still acknowledges
every byte (a stopped VM, a stuck server, a relay that stops relaying). psycopg2 has no
query timeout of its own, and libpq no socket timeout.

What bounds the wait here is psycopg2's wait callback (`set_wait_callback`, the hook
that green-thread libraries use): installed once per process, it makes psycopg2 send
each command without blocking and hand the waiting to us, in the thread that made the
call. We wait on the socket with `select()` until the operation's deadline:

- every operation (a connect, one statement, a commit) waits at most
  DATABASE_CONNECT_TIMEOUT (connecting) or DATABASE_CLIENT_TIMEOUT_MS (the rest);
- inside `deadline(seconds)` everything (connect, health check, statements) finishes
  by that time: the audit write's AUDIT_WRITE_TIMEOUT_MS (audit/record.py).

On a deadline the callback raises `DatabaseDeadline` (an `OperationalError`, so Django
and every `except DatabaseError` see it as any database failure). psycopg2 then closes
that connection itself, in the thread that owns it: the one place a close is safe (a
close from another thread would wait for the stuck call's lock, and a connection
abandoned with a thread still in it would need that thread back). Nothing is left
waiting and the connection object is never reused: Django reconnects on the next use.
We chose this over a pool of worker threads that the caller waits on with a timeout:
those threads would stay stuck on the frozen socket, each holding a connection, and
their number would need a bound of its own.

A deadline also trips the database's breaker at once (one timeout tells as much as
three): while it is open, every operation of this process fails at once with
`DatabaseSkipped` instead of waiting out its deadline, so a frozen server costs each
process one deadline per cool-down, not one per request. The audit write queues its
row durably instead (audit/record.py); a session lookup, `/readyz` or the admin answer
an error at once.

What a deadline cannot tell: whether the server ran the statement. A row whose INSERT
timed out is queued as well, and may also reach the table once the server thaws; the
queue's replay skips event ids already written, so it is written once (audit/record.py).
"""

from __future__ import annotations

import contextlib
import select
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import psycopg2
import psycopg2.extensions
from django.conf import settings
from django.db import connection

from monsters.guards.breaker import Breaker, breaker_for


class DatabaseDeadline(psycopg2.OperationalError):
    """PostgreSQL did not answer before the deadline; the connection is closed."""


class DatabaseSkipped(psycopg2.OperationalError):
    """Not asked: it missed a deadline lately and its breaker is open."""


# The absolute time (time.monotonic()) by which the current block must be done, if any.
_deadline: ContextVar[float | None] = ContextVar("database_deadline", default=None)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Everything this thread asks PostgreSQL inside the block is answered within
    `seconds` from now (or fails with DatabaseDeadline); an outer, earlier deadline wins."""
    end = time.monotonic() + seconds
    outer = _deadline.get()
    token = _deadline.set(end if outer is None else min(outer, end))
    try:
        yield
    finally:
        _deadline.reset(token)


def install() -> None:
    """Bound this process's PostgreSQL waits (AppConfig.ready: once per process, before
    the first connection; gunicorn's forked workers inherit it)."""
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        psycopg2.extensions.set_wait_callback(wait_with_deadline)


@contextlib.contextmanager
def unbounded() -> Iterator[None]:
    """psycopg2 refuses COPY with a wait callback: lift it for the block. It is the
    process's, so only for one-off commands (seed_audit_log), never in a web process."""
    callback = psycopg2.extensions.get_wait_callback()
    psycopg2.extensions.set_wait_callback(None)
    try:
        yield
    finally:
        psycopg2.extensions.set_wait_callback(callback)


def database_breaker() -> Breaker:
    """This process's breaker for the audit database (the project's one database)."""
    database = connection.settings_dict
    where = f"{database.get('HOST') or 'local'}:{database.get('PORT') or ''}/{database['NAME']}"
    return breaker_for(
        f"audit database {where}",
        failures_to_open=settings.BREAKER_FAILURES,
        cool_down=settings.BREAKER_COOL_DOWN,
    )


def _operation_seconds(conn: Any) -> float | None:
    if conn.status == psycopg2.extensions.STATUS_SETUP:  # connecting
        return float(settings.DATABASE_CONNECT_TIMEOUT)
    client_ms = settings.DATABASE_CLIENT_TIMEOUT_MS
    return client_ms / 1000 if client_ms else None  # 0: no bound (the migrate job)


def wait_with_deadline(conn: Any) -> None:
    """psycopg2's wait callback: poll `conn` until its operation is done, waiting on its
    socket no longer than the operation's deadline."""
    breaker = database_breaker()
    if breaker.refusing():
        raise DatabaseSkipped("the database missed a deadline lately: not waiting on it")
    now = time.monotonic()
    seconds = _operation_seconds(conn)
    ends = [end for end in (_deadline.get(), now + seconds if seconds else None) if end]
    end = min(ends) if ends else None
    while True:
        state = conn.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        left = None if end is None else end - time.monotonic()
        if left is not None and left <= 0:
            breaker.trip()
            raise DatabaseDeadline("PostgreSQL did not answer in time")
        if state == psycopg2.extensions.POLL_READ:
            select.select([conn.fileno()], [], [], left)
        elif state == psycopg2.extensions.POLL_WRITE:
            select.select([], [conn.fileno()], [], left)
        else:  # psycopg2 documents no other state
            raise psycopg2.OperationalError(f"unexpected poll state {state}")
