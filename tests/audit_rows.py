"""The audit log as the tests see it: rows written, intents waiting, the write-behind
settled, and the audit database moved away and back."""

from __future__ import annotations

import copy

from django.db import connection
from django_redis import get_redis_connection

from monsters.audit import record as audit
from monsters.audit import writer
from monsters.models import Generation
from tests.waiting import eventually


def rows() -> int:
    """Audit rows written to PostgreSQL."""
    return Generation.objects.count()


def intents() -> int:
    """Intents in Redis: rows of web misses not written (or queued) yet."""
    return int(get_redis_connection("monsters").xlen(audit._key(audit.INTENTS_NAME)))


class AuditDatabase:
    """Moves the audit database to another port for every thread's new connections
    (they are all made from one settings dict), and back."""

    def __init__(self) -> None:
        self._shared = connection.settings_dict
        self._original = copy.deepcopy(dict(self._shared))

    def point_at(self, port: int) -> None:
        connection.close()
        # The production connect timeout (libpq's least, 2 s), not the suite's generous one.
        options = {**self._shared.get("OPTIONS", {}), "connect_timeout": 2}
        self._shared.update(HOST="127.0.0.1", PORT=str(port), OPTIONS=options)

    def restore(self) -> None:
        connection.close()
        self._shared.clear()
        self._shared.update(self._original)


def settle_audit() -> None:
    """Wait until this process's audit writer has written (or queued) every row it
    held: what a test reads of the audit log after a request, with the write-behind on
    (AUDIT_WRITE_BEHIND_MS, the production default), is then there. At once without it.

    `flush()` writes what still waits; a batch the writer thread took already is done
    when its intents are gone (deleted once its rows are written or queued)."""
    writer.writer().flush()
    assert eventually(lambda: intents() == 0), f"{intents()} audit rows still in flight"
