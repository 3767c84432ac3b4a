"""Each process's own flusher: a daemon thread that writes the durable queue's rows
once the database takes them again (`record.flush_queue`), started when this process
queues a row, or sees rows waiting after a write of its own went through."""

from __future__ import annotations

import logging
import threading
import time

import redis
from django.db import Error as DatabaseError
from django.db import connection

from monsters.audit import held, record

logger = logging.getLogger(__name__)


_flusher: threading.Thread | None = None
_flusher_lock = threading.Lock()
_last_queue_check = 0.0  # time.monotonic() of this process's last look at the queue


def flush_if_rows_wait() -> None:
    """The database has just taken a row: when rows wait in the queue (queued by this
    process or by one that has exited since), start this process's flusher. One XLEN,
    at most every record.QUEUE_CHECK_SECONDS per process."""
    global _last_queue_check
    now = time.monotonic()
    if now - _last_queue_check < record.QUEUE_CHECK_SECONDS:
        return
    _last_queue_check = now
    try:
        waiting = record.queue_length() + record.orphan_count()
    except (redis.RedisError, OSError) as exc:  # the queue is for another time
        logger.debug("Audit queue not checked: %s", exc)
        return
    if waiting:
        start()


def start() -> None:
    """One daemon thread per process that retries the queue until it is empty."""
    global _flusher
    with _flusher_lock:
        if _flusher is not None and _flusher.is_alive():
            return
        _flusher = threading.Thread(target=_flush_until_empty, name="audit-flusher", daemon=True)
        _flusher.start()


def _flush_until_empty() -> None:
    stop = threading.Event()
    try:
        while not stop.wait(record.RETRY_SECONDS):
            held.retry()  # rows neither PostgreSQL nor Redis could take until now
            try:
                report = record.flush_when_allowed()
            except (DatabaseError, redis.RedisError, OSError) as exc:  # still down: retry
                logger.debug("Audit queue not flushed yet: %s", exc)
                continue
            if report is None:  # the database is being skipped for now
                continue
            if report.written:
                logger.warning("Audit queue: %d queued rows written", report.written)
            if not report.left and not record.orphan_count() and not held.count():
                return
    finally:
        connection.close()  # this thread's own database connection
