"""Web misses' audit rows, written behind the answer, in batches.

A web miss stores its image and its row's intent in one atomic Redis step
(`cache.add_with_intent`). From then on the row cannot be lost: a process that dies
before writing it leaves the intent, which another replays once it is ORPHAN_SECONDS old
(audit.py). So the request need not wait for PostgreSQL. It hands the row to this
process's writer and answers; the writer, one daemon thread per process, writes the rows
that have come in at most AUDIT_WRITE_BEHIND_MS after the first of them (at once when
WRITE_BATCH are waiting) with one INSERT, and forgets their intents with one XDEL. Per
miss that is two round trips fewer, and no commit of its own for PostgreSQL.

A process that exits normally writes what it holds first (atexit: gunicorn's workers
leave by `sys.exit`); a killed one leaves intents behind, replayed as before. Rows
without an intent (a local-memory cache, or Redis unreachable) are written at once, and
so is every row when AUDIT_WRITE_BEHIND_MS is 0.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time

from django.conf import settings
from django.db import close_old_connections

from . import audit
from .metrics import AUDIT_ROWS_WAITING
from .models import Generation

logger = logging.getLogger(__name__)

WRITE_BATCH = 200  # rows in one INSERT at most


class Writer:
    """Collects (row, intent) pairs from request threads; a thread of its own writes
    them in batches."""

    def __init__(self) -> None:
        self._pending: list[tuple[Generation, str]] = []
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._first_at = 0.0  # time.monotonic() of the oldest row waiting

    def submit(self, generation: Generation, intent: str) -> None:
        with self._changed:
            first = not self._pending
            if first:
                self._first_at = time.monotonic()
            self._pending.append((generation, intent))
            AUDIT_ROWS_WAITING.inc()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._write_forever, name="audit-writer", daemon=True
                )
                self._thread.start()
            # Wake the thread for a new batch's clock, or a full batch; not for every row.
            if first or len(self._pending) >= WRITE_BATCH:
                self._changed.notify()

    def pending(self) -> int:
        with self._changed:
            return len(self._pending)

    def flush(self) -> None:
        """Write everything waiting, in the calling thread. Not in a forked child:
        what its parent held is the parent's to write."""
        if os.getpid() != self._pid:
            return
        while batch := self._take():
            _write(batch)

    def _take(self) -> list[tuple[Generation, str]]:
        with self._changed:
            batch, self._pending = self._pending[:WRITE_BATCH], self._pending[WRITE_BATCH:]
            AUDIT_ROWS_WAITING.dec(len(batch))
        return batch

    def _write_forever(self) -> None:
        while True:
            with self._changed:
                while True:
                    if not self._pending:
                        self._changed.wait()
                        continue
                    # The batch's first row waits at most the delay for others to join.
                    left = self._first_at + _delay() - time.monotonic()
                    if left <= 0 or len(self._pending) >= WRITE_BATCH:
                        break
                    self._changed.wait(left)
            _write(self._take())


def _write(batch: list[tuple[Generation, str]]) -> None:
    if not batch:
        return
    # No request begins or ends in this thread to let Django retire a connection that
    # is too old or broken (or, with CONN_MAX_AGE 0, close it): done here, as a request
    # does at both ends.
    close_old_connections()
    try:
        audit.record(
            [generation for generation, _ in batch],
            intents=[intent for _, intent in batch],
            replayable=True,
        )
    except Exception:  # a bug, not an outage (record() handles those): the intents stay
        logger.exception("Audit rows not written now; their intents will be replayed")
    finally:
        close_old_connections()


def _delay() -> float:
    return float(settings.AUDIT_WRITE_BEHIND_MS) / 1000


_writer: Writer | None = None
_writer_lock = threading.Lock()


def writer() -> Writer:
    """This process's writer, made on first use (after gunicorn forks)."""
    global _writer
    with _writer_lock:
        if _writer is None:
            _writer = Writer()
            atexit.register(_writer.flush)
        return _writer


def _forget_parents_writer() -> None:
    """A forked child neither owns its parent's thread nor its rows (the parent writes
    those): it makes a writer of its own when it needs one."""
    global _writer, _writer_lock
    _writer, _writer_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_parents_writer)


def record_miss(generation: Generation, intent: str | None) -> None:
    """Write a web miss's row: behind the answer when its intent guards it, else now."""
    if intent is None or not settings.AUDIT_WRITE_BEHIND_MS:
        audit.record([generation], intents=[intent] if intent else None)
        return
    writer().submit(generation, intent)
