"""Rows that neither PostgreSQL nor Redis could take wait in the process's memory
(monsters/audit/held.py): bounded, retried, and logged only when they do not fit."""

from __future__ import annotations

import logging
import uuid

import pytest

from monsters.audit import held
from monsters.audit import record as audit
from monsters.models import Generation

pytestmark = pytest.mark.django_db(transaction=True)


def generation(n: int) -> Generation:
    return audit.new_generation(
        name_hash=f"{n:064x}", size=80, source="builtin", origin="web", png_bytes=1, render_ms=1
    )


@pytest.fixture(autouse=True)
def nothing_held():
    held.retry()  # whatever an earlier test left goes to the table now
    yield
    held.retry()


def test_held_rows_reach_the_table_once_it_answers_and_only_once(settings):
    rows = [generation(n) for n in range(3)]
    held.keep(rows)
    assert held.count() == 3
    audit.write_or_queue([rows[0]], replayable=True)  # one of them got through meanwhile
    held.retry()
    assert held.count() == 0
    assert sorted(Generation.objects.values_list("event_id", flat=True)) == sorted(
        row.event_id for row in rows
    )


def test_rows_beyond_the_bound_are_logged_with_every_field(settings, caplog):
    settings.AUDIT_MAX_WAITING_ROWS = 2
    rows = [generation(n) for n in range(5)]
    with caplog.at_level(logging.ERROR, logger="monsters.audit.held"):
        held.keep(rows)
    assert held.count() == 2
    logged = [record.getMessage() for record in caplog.records]
    assert len(logged) == 3
    assert all("Audit row not written, keep it" in line for line in logged)
    assert str(rows[4].event_id) in logged[-1] and rows[4].name_hash in logged[-1]
    assert uuid.UUID(str(rows[0].event_id))  # the kept ones are not in the log
    assert not any(str(rows[0].event_id) in line for line in logged)
