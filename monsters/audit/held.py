"""Rows that neither PostgreSQL nor Redis could take, kept in this process's memory.

Where an audit row can go, in order: the table; the durable queue in Redis
(record.py); this process's memory (here); the log. A row kept here is handed back to
`record.write_or_queue` by the process's flusher every RETRY_SECONDS (flusher.py), so
it reaches the table, or the queue, as soon as either answers again: a short outage of
both loses no row and writes none twice (replays skip event ids already written).

At most AUDIT_MAX_WAITING_ROWS are kept. A row that does not fit, or that is still here
when the process exits, is logged at ERROR with every field: the last place it can go,
from which a person can still insert it.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading

from django.conf import settings

from monsters.audit import flusher, record
from monsters.metrics import AUDIT_ROWS
from monsters.models import Generation

logger = logging.getLogger(__name__)

_rows: list[Generation] = []
_lock = threading.Lock()


def keep(generations: list[Generation]) -> None:
    """Keep what fits, for the flusher to retry; log the rest."""
    with _lock:
        room = max(0, settings.AUDIT_MAX_WAITING_ROWS - len(_rows))
        kept, spilled = generations[:room], generations[room:]
        _rows.extend(kept)
    if kept:
        AUDIT_ROWS.labels("held").inc(len(kept))
        flusher.start()
    log(spilled)


def count() -> int:
    with _lock:
        return len(_rows)


def retry() -> None:
    """Hand every kept row back to `record`: the table, else the queue, else here again."""
    with _lock:
        rows = _rows[:]
        _rows.clear()
    if not rows:
        return
    try:
        record.write_or_queue(rows, replayable=True)
    except Exception:  # a bug, not an outage (write_or_queue handles those): keep them
        logger.exception("Audit rows kept in memory could not be retried")
        keep(rows)


def log(generations: list[Generation]) -> None:
    if not generations:
        return
    AUDIT_ROWS.labels("logged").inc(len(generations))
    for generation in generations:
        fields = json.dumps(record.to_fields(generation))
        logger.error("Audit row not written, keep it: %s", fields)


def _log_what_is_left() -> None:
    with _lock:
        rows = _rows[:]
        _rows.clear()
    log(rows)


def _forget_parents_rows() -> None:
    """A forked child's copy of its parent's rows is the parent's to write."""
    global _lock
    _rows.clear()
    _lock = threading.Lock()


atexit.register(_log_what_is_left)
os.register_at_fork(after_in_child=_forget_parents_rows)
