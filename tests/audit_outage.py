"""The audit log's outages as the durability tests stage them: the audit database moved
away and back, the durable queue emptied around a test, and `manage.py flush_audit` run
to write what waits."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.management import call_command

from monsters.audit import record as audit
from tests.audit_rows import AuditDatabase


@contextmanager
def audit_database() -> Iterator[AuditDatabase]:
    """The audit database, for a test to move away (`point_at`): back where it was after."""
    moved = AuditDatabase()
    try:
        yield moved
    finally:
        moved.restore()


@contextmanager
def empty_queue_around() -> Iterator[None]:
    """The durable queue written out before and after."""
    audit.flush_queue()
    try:
        yield
    finally:
        audit.flush_queue()


def flush() -> str:
    out = io.StringIO()
    call_command("flush_audit", stdout=out)
    return out.getvalue()
