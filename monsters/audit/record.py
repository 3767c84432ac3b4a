"""Writing the audit log so that no generation is ever lost.

Every generation gets an event id (a UUID, unique in the table) when it is made. A row
is written straight to PostgreSQL when it can be; when the database fails (or its
breaker is open after repeated failures), the row goes to a durable queue, a Redis
stream, and a background thread of this process writes it once the database is back.
The process that queued a row may be gone by then (gunicorn replaces workers every
GUNICORN_MAX_REQUESTS, a deploy replaces them all), so any process whose own write goes
through also looks at the queue, at most every QUEUE_CHECK_SECONDS, and starts its
flusher when rows wait. `manage.py flush_audit` drains the queue on demand.
A web miss also stores its row's intent with its image, in one atomic Redis step, and
deletes it once the row is written or queued: the intent of a process killed in
between is replayed once it is ORPHAN_SECONDS old, so a dead process loses no row. Replays
insert with ON CONFLICT DO NOTHING on the event id, so writing a row twice leaves one
row. When Redis is down too, the row is logged at error level with every field, the
last place it can go.

No write waits on PostgreSQL longer than AUDIT_WRITE_TIMEOUT_MS, whatever the server
does (guards/database.py): a write that misses it opens the database's breaker and its
rows are queued. The INSERT may still reach the table once the server answers again;
the queue's replay skips event ids already written, so the row is written once.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.core.cache import caches
from django.db import Error as DatabaseError  # InterfaceError too: a closed connection
from django.db import transaction
from django.utils import timezone
from django_redis import get_redis_connection
from django_redis.cache import RedisCache

from monsters.audit import flusher, held
from monsters.guards import database
from monsters.metrics import AUDIT_ROWS
from monsters.models import Generation

logger = logging.getLogger(__name__)

CACHE_ALIAS = "monsters"  # the durable queue lives in the cache's Redis
QUEUE_NAME = "audit:queue"
# Rows about to be written, each stored atomically with its image: what a process that
# died in between leaves behind is replayed once it is ORPHAN_SECONDS old.
INTENTS_NAME = "audit:intents"
ORPHAN_SECONDS = 30.0
LOCK_NAME = "audit:flush"
FLUSH_BATCH = 500
RETRY_SECONDS = 2.0
FLUSHER_LOCK_WAIT = 5.0  # a background flusher tries again RETRY_SECONDS later
QUEUE_CHECK_SECONDS = 10.0
FIELDS = (
    "event_id",
    "name_hash",
    "size",
    "format",
    "style",
    "source",
    "origin",
    "png_bytes",
    "render_ms",
)


@dataclass(frozen=True)
class FlushReport:
    written: int  # rows inserted now
    replayed: int  # queued events whose row existed already (a repeated flush)
    left: int  # events still queued


def new_generation(
    *,
    name_hash: str,
    size: int,
    fmt: str = Generation.Format.PNG,
    style: str = Generation.MONSTER_STYLE,
    source: str,
    origin: str,
    png_bytes: int,
    render_ms: float,
) -> Generation:
    """An unsaved audit row with its event id: the id travels with it through the queue.
    `png_bytes` is the image's length, whatever its format (the column's old name)."""
    return Generation(
        event_id=uuid.uuid4(),
        name_hash=name_hash,
        size=size,
        format=fmt,
        style=style,
        source=source,
        origin=origin,
        png_bytes=png_bytes,
        render_ms=render_ms,
        created_at=timezone.now(),
    )


def intent_of(generation: Generation) -> tuple[str, dict[str, str]]:
    """The stream and fields of a row about to be written: stored with its image in one
    atomic step (cache.add_with_intent), deleted once the row is written or queued."""
    return INTENTS_NAME, to_fields(generation)


def record(
    generations: list[Generation], *, intents: list[str] | None = None, replayable: bool = False
) -> None:
    """Write the rows now, or queue them durably when the database cannot take them;
    then forget their `intents`, the entries that stood for them until now.

    `replayable`: a flusher may have written some of them already from their intents
    (rows written behind, audit_writer.py): those are skipped, not an error."""
    try:
        write_or_queue(generations, replayable=replayable)
    finally:
        if intents:
            _forget_intents(intents)


def write_or_queue(generations: list[Generation], *, replayable: bool = False) -> None:
    breaker = _database_breaker()
    if breaker.allow():
        try:
            with _write_deadline():
                written = _insert(generations, replay=replayable)
        except DatabaseError as exc:
            breaker.failed()
            logger.info("Audit rows queued: the database failed (%s)", type(exc).__name__)
        else:
            breaker.succeeded()
            AUDIT_ROWS.labels("written").inc(written)
            flusher.flush_if_rows_wait()
            return
    _enqueue(generations)


def _write_deadline() -> contextlib.AbstractContextManager[None]:
    timeout_ms = settings.AUDIT_WRITE_TIMEOUT_MS
    return database.deadline(timeout_ms / 1000) if timeout_ms else contextlib.nullcontext()


def queue(generations: list[Generation], *, intents: list[str] | None = None) -> None:
    """Queue the rows durably without asking the database (or log them when Redis is
    down too), then forget their `intents`: what a writer holding too many does."""
    try:
        _enqueue(generations)
    finally:
        if intents:
            _forget_intents(intents)


def _forget_intents(intents: list[str]) -> None:
    client = _redis()
    if client is None:
        return
    try:
        client.xdel(_key(INTENTS_NAME), *intents)
    except (redis.RedisError, OSError) as exc:  # left behind: replayed later, idempotently
        logger.debug("Audit intents not deleted: %s", exc)


def queue_length() -> int:
    """How many events wait in the durable queue (0 without Redis)."""
    client = _redis()
    return int(client.xlen(_queue_key())) if client is not None else 0


def flush_queue(
    *, wait: float = FLUSHER_LOCK_WAIT, orphans_after: float | None = None
) -> FlushReport:
    """Write every queued event, oldest first, idempotently; one flusher at a time,
    waiting at most `wait` seconds for the one before.

    Raises DatabaseError when the database still cannot take them (they stay queued),
    redis.exceptions.LockError when another flusher kept the queue for `wait` seconds."""
    client = _redis()
    if client is None:
        return FlushReport(written=0, replayed=0, left=0)
    written = replayed = 0
    lock = _flush_lock(client, wait=wait)
    with lock:
        # The queue, then the intents of processes that died before writing their row.
        cutoff = _orphan_cutoff(orphans_after)
        for stream, newest in ((_queue_key(), "+"), (_key(INTENTS_NAME), cutoff)):
            while entries := client.xrange(stream, max=newest, count=FLUSH_BATCH):
                rows = [_from_fields(fields) for _, fields in entries]
                inserted = _insert(rows, replay=True)
                written += inserted
                replayed += len(rows) - inserted
                AUDIT_ROWS.labels("replayed").inc(inserted)
                client.xdel(stream, *[entry_id for entry_id, _ in entries])
                lock.reacquire()  # one more batch: the lock lasts lock_seconds() from now
    return FlushReport(written=written, replayed=replayed, left=queue_length())


def _orphan_cutoff(seconds: float | None = None) -> str:
    """The newest intent id old enough to be an orphan: its process had `seconds` (by
    default ORPHAN_SECONDS, far more than any INSERT may take) to write the row and
    forget it."""
    age = ORPHAN_SECONDS if seconds is None else seconds
    return str(int((time.time() - age) * 1000))


def orphan_count() -> int:
    """Intents old enough that their process must be gone without writing its row."""
    client = _redis()
    if client is None:
        return 0
    return len(client.xrange(_key(INTENTS_NAME), max=_orphan_cutoff(), count=FLUSH_BATCH))


def lock_seconds() -> float:
    """How long the flush lock outlives a flusher that stops renewing it: one batch at
    most (a database connect, one INSERT, one XDEL), with room to spare. A flusher whose
    process exits mid-flush (gunicorn replaces workers every GUNICORN_MAX_REQUESTS)
    holds up the others no longer than this."""
    statement = settings.DATABASE_STATEMENT_TIMEOUT_MS / 1000 or 60.0  # 0: no limit
    return float(settings.DATABASE_CONNECT_TIMEOUT + statement + 5)


def _flush_lock(client: Any, *, wait: float) -> Any:
    return client.lock(_key(LOCK_NAME), timeout=lock_seconds(), blocking_timeout=wait)


def flush_when_allowed() -> FlushReport | None:
    """`flush_queue()` for the background flusher: it asks the database only when the
    database's breaker lets a call through, like any request would."""
    breaker = _database_breaker()
    if not breaker.allow():
        return None
    try:
        report = flush_queue()
    except DatabaseError:
        breaker.failed()
        raise
    breaker.succeeded()
    return report


def _insert(rows: list[Generation], *, replay: bool = False) -> int:
    """Insert `rows` all or none; with `replay`, rows whose event id is already in the
    table are skipped. Returns how many were new.

    One row (a web miss) is one INSERT, atomic by itself: wrapped in a transaction it
    would cost a BEGIN and a COMMIT, two more round trips to PostgreSQL per miss.
    `bulk_create` makes its own transaction when it needs more than one statement."""
    if not replay and len(rows) == 1:
        rows[0].save(force_insert=True)
        return 1
    if not replay:
        Generation.objects.bulk_create(rows)
        return len(rows)
    with transaction.atomic():
        known = set(
            Generation.objects.filter(event_id__in=[row.event_id for row in rows]).values_list(
                "event_id", flat=True
            )
        )
        fresh = [row for row in rows if row.event_id not in known]
        Generation.objects.bulk_create(fresh, ignore_conflicts=True)
        return len(fresh)


def _enqueue(generations: list[Generation]) -> None:
    client = _redis()
    if client is not None:
        try:
            pipeline = client.pipeline(transaction=False)
            for generation in generations:
                pipeline.xadd(_queue_key(), to_fields(generation))
            pipeline.execute()
        except (redis.RedisError, OSError) as exc:  # the log below is the last resort
            logger.debug("Audit queue unavailable: %s", exc)
        else:
            AUDIT_ROWS.labels("queued").inc(len(generations))
            flusher.start()
            return
    held.keep(generations)  # Redis is down too: this process's memory, then the log


def to_fields(generation: Generation) -> dict[str, str]:
    fields = {name: str(getattr(generation, name)) for name in FIELDS}
    fields["created_at"] = generation.created_at.isoformat()
    return fields


def _from_fields(fields: dict[bytes, bytes]) -> Generation:
    text: dict[str, Any] = {key.decode(): value.decode() for key, value in fields.items()}
    return Generation(
        event_id=uuid.UUID(text["event_id"]),
        name_hash=text["name_hash"],
        size=int(text["size"]),
        # Events queued by a process from before formats were all PNGs.
        format=text.get("format", Generation.Format.PNG),
        # And before styles, all monsters.
        style=text.get("style", Generation.MONSTER_STYLE),
        source=text["source"],
        origin=text["origin"],
        png_bytes=int(text["png_bytes"]),
        render_ms=float(text["render_ms"]),
        created_at=datetime.datetime.fromisoformat(text["created_at"]),
    )


# --- Where things are ---------------------------------------------------------------------


def _redis() -> Any:
    """The cache's Redis client, or None when the cache is local memory."""
    if not isinstance(caches[CACHE_ALIAS], RedisCache):
        return None
    return get_redis_connection(CACHE_ALIAS)


def _key(name: str) -> str:
    return str(caches[CACHE_ALIAS].make_key(name))


def _queue_key() -> str:
    return _key(QUEUE_NAME)


def _database_breaker() -> Any:
    return database.database_breaker()
