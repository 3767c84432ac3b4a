"""Audit rows written in batches: the web's misses behind their answer, the warmer's
as it goes (one `Batcher` for both).

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

A batch's write waits on PostgreSQL at most AUDIT_WRITE_TIMEOUT_MS, then its rows go
to the durable queue and the database's breaker opens (record.py, guards/database.py),
so a frozen server never holds the writer. The rows waiting meanwhile are bounded too:
beyond AUDIT_MAX_WAITING_ROWS a row is queued durably in the adding thread instead,
counted (identidock_audit_rows_total{outcome="overflowed"}), and a warning is logged
when the writer starts and when it stops turning rows away.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections

from monsters.audit import record as audit
from monsters.metrics import AUDIT_ROWS, AUDIT_ROWS_WAITING
from monsters.models import Generation

logger = logging.getLogger(__name__)

WRITE_BATCH = 200  # rows in one INSERT at most


class Batcher:
    """Audit rows collected from many threads, written in batches of at most `size`
    rows, one INSERT each.

    With a `delay` (the web's write-behind: a function, so a change of the setting
    takes effect at once), a daemon thread of its own writes each batch at most
    `delay()` seconds after its first row, or at once when `size` rows
    wait. Without one (the warmer), the caller writes: `write_if_full()` between items
    and `flush()` at the end, so the threads that `add()` never need a database
    connection. Either way `flush()` writes whatever waits, in the calling thread.
    """

    def __init__(
        self,
        *,
        size: int = WRITE_BATCH,
        delay: Callable[[], float] | None = None,
        most_waiting: Callable[[], int] | None = None,
    ) -> None:
        self.size = size
        self._delay = delay
        self._most_waiting = most_waiting  # None: the caller writes, so rows cannot pile up
        self._overflowing = False
        self._pending: list[tuple[Generation, str | None]] = []
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._first_at = 0.0  # time.monotonic() of the oldest row waiting

    def add(self, generation: Generation, intent: str | None = None) -> None:
        if self._over_bound():
            AUDIT_ROWS.labels("overflowed").inc()
            audit.queue([generation], intents=[intent] if intent else None)
            return
        with self._changed:
            first = not self._pending
            if first:
                self._first_at = time.monotonic()
            self._pending.append((generation, intent))
            AUDIT_ROWS_WAITING.inc()
            if self._delay is None:
                return
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._write_forever, name="audit-writer", daemon=True
                )
                self._thread.start()
            # Wake the thread for a new batch's clock, or a full batch; not for every row.
            if first or len(self._pending) >= self.size:
                self._changed.notify()

    def _over_bound(self) -> bool:
        """Whether as many rows wait as allowed; logs each change of that, once."""
        if self._most_waiting is None:
            return False
        most = self._most_waiting()
        with self._changed:
            full = len(self._pending) >= most
            changed, self._overflowing = full != self._overflowing, full
        if changed and full:
            logger.warning(
                "Audit writer holds %d rows, its most: further rows go to the durable queue",
                most,
            )
        elif changed:
            logger.warning("Audit writer holds fewer than %d rows again: batching resumes", most)
        return full

    def pending(self) -> int:
        with self._changed:
            return len(self._pending)

    def write_if_full(self) -> None:
        """Write one batch if a whole batch waits."""
        if self.pending() >= self.size:
            _write(self._take())

    def flush(self) -> None:
        """Write everything waiting, in the calling thread. Not in a forked child:
        what its parent held is the parent's to write."""
        if os.getpid() != self._pid:
            return
        while batch := self._take():
            _write(batch)

    def _take(self) -> list[tuple[Generation, str | None]]:
        with self._changed:
            batch, self._pending = self._pending[: self.size], self._pending[self.size :]
            AUDIT_ROWS_WAITING.dec(len(batch))
        return batch

    def _write_forever(self) -> None:
        assert self._delay is not None  # noqa: S101 - only started with a delay
        while True:
            with self._changed:
                while True:
                    if not self._pending:
                        self._changed.wait()
                        continue
                    # The batch's first row waits at most the delay for others to join.
                    left = self._first_at + self._delay() - time.monotonic()
                    if left <= 0 or len(self._pending) >= self.size:
                        break
                    self._changed.wait(left)
            _write_in_own_thread(self._take())


def _write(batch: list[tuple[Generation, str | None]]) -> None:
    if not batch:
        return
    intents = [intent for _, intent in batch if intent is not None]
    try:
        audit.record(
            [generation for generation, _ in batch], intents=intents, replayable=bool(intents)
        )
    except Exception:  # a bug, not an outage (record() handles those): the intents stay
        logger.exception("Audit rows not written now; their intents will be replayed")


def _write_in_own_thread(batch: list[tuple[Generation, str | None]]) -> None:
    # No request begins or ends in the writer's thread to let Django retire a connection
    # that is too old or broken (or, with CONN_MAX_AGE 0, close it): done here, as a
    # request does at both ends.
    close_old_connections()
    try:
        _write(batch)
    finally:
        close_old_connections()


def _write_behind_seconds() -> float:
    return float(settings.AUDIT_WRITE_BEHIND_MS) / 1000


def _most_waiting() -> int:
    return int(settings.AUDIT_MAX_WAITING_ROWS)


_writer: Batcher | None = None
_writer_lock = threading.Lock()


def writer() -> Batcher:
    """This process's write-behind batcher, made on first use (after gunicorn forks)."""
    global _writer
    with _writer_lock:
        if _writer is None:
            _writer = Batcher(delay=_write_behind_seconds, most_waiting=_most_waiting)
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
    writer().add(generation, intent)
