"""Web misses' audit rows written behind the answer, in batches (monsters/audit/writer.py):
the answer does not wait for PostgreSQL, every row arrives exactly once, a full batch
goes at once, a row a flusher already wrote from its intent is not written twice, a
database that is down sends the batch to the durable queue, and a worker that exits
writes what it holds."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from http import HTTPStatus

import pytest
import requests
from django.db import connection
from prometheus_client import REGISTRY

from monsters.audit import record as audit
from monsters.audit import writer as audit_writer
from monsters.images import identity
from monsters.models import Generation
from tests import per_run
from tests.audit_rows import AuditDatabase, intents, rows
from tests.gunicorn_server import gunicorn
from tests.ports import free_port
from tests.waiting import eventually

pytestmark = pytest.mark.django_db(transaction=True)

HOURS = 3_600_000  # a delay no test waits out: the rows go only when told, or when full


def miss(client, name: str) -> None:
    response = client.get(f"/monster/{identity.hash_name(name)}")
    assert response.status_code == HTTPStatus.OK
    assert response["X-Cache"] == "MISS"


@pytest.fixture
def writer(settings, renderer_server) -> Iterator[audit_writer.Batcher]:
    """This process's writer, empty before and after the test."""
    audit.flush_queue(orphans_after=0)
    settings.AUDIT_WRITE_BEHIND_MS = HOURS
    own = audit_writer.writer()
    yield own
    own.flush()
    audit.flush_queue(orphans_after=0)


def waiting_gauge() -> float:
    return REGISTRY.get_sample_value("identidock_audit_rows_waiting") or 0.0


def test_a_miss_is_answered_before_its_row_is_written_and_its_intent_guards_it(client, writer):
    gauge = waiting_gauge()
    for n in range(3):
        miss(client, f"guest {n}")
    assert rows() == 0
    assert writer.pending() == 3
    assert waiting_gauge() == gauge + 3  # what an operator sees of them
    assert intents() == 3  # each row is safe meanwhile: a flusher would write it
    writer.flush()
    assert rows() == 3
    assert intents() == 0
    assert writer.pending() == 0
    assert waiting_gauge() == gauge


def test_the_writer_thread_writes_the_rows_once_the_delay_is_over(client, writer, settings):
    settings.AUDIT_WRITE_BEHIND_MS = 50
    for n in range(20):
        miss(client, f"guest {n}")
    assert eventually(lambda: rows() == 20), rows()
    assert eventually(lambda: intents() == 0), intents()
    assert sorted(Generation.objects.values_list("name_hash", flat=True)) == sorted(
        identity.hash_name(f"guest {n}") for n in range(20)
    )


def test_a_full_batch_is_written_without_waiting_for_the_delay(client, writer, monkeypatch):
    monkeypatch.setattr(writer, "size", 5)
    for n in range(4):
        miss(client, f"guest {n}")
    # What must not happen has no event to wait for: the writer thread, woken by the
    # first row, gets 0.3 s to write a batch that is not full, and must not.
    time.sleep(0.3)
    assert rows() == 0  # the delay is hours: four rows wait
    miss(client, "guest 4")
    assert eventually(lambda: rows() == 5), rows()
    assert writer.pending() == 0


def test_rows_a_flusher_already_wrote_from_their_intents_are_not_written_twice(
    client, writer, monkeypatch
):
    for n in range(3):
        miss(client, f"guest {n}")
    # `flush_audit` writes intents of any age: the rows this process still holds too.
    assert audit.flush_queue(orphans_after=0).written == 3
    writer.flush()
    assert rows() == 3
    assert intents() == 0
    assert audit.queue_length() == 0
    assert audit._database_breaker().allow()  # skipping rows written is no failure


def test_with_the_database_down_the_batch_goes_to_the_durable_queue(client, writer):
    for n in range(3):
        miss(client, f"guest {n}")
    database = AuditDatabase()
    database.point_at(free_port())  # nothing listens there
    try:
        writer.flush()
    finally:
        database.restore()
    assert intents() == 0
    assert audit.queue_length() == 3
    assert rows() == 0
    assert audit.flush_queue().written == 3
    assert rows() == 3


def test_a_worker_that_exits_writes_the_rows_it_holds(renderer_server):
    """Under gunicorn, with a delay no request waits out: the rows are written when
    the worker stops (SIGTERM to gunicorn, as a deploy does), not lost or left to a
    replay."""
    audit.flush_queue(orphans_after=0)
    database = connection.settings_dict
    environment = {
        "SECRET_KEY": "audit-writer-test-only",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}"
            f"/{database['NAME']}"
        ),
        "REDIS_URL": os.environ["REDIS_URL"],
        "CACHE_KEY_PREFIX": per_run.cache_key_prefix(),
        "DNMONSTER_URL": renderer_server.url,
        "AUDIT_WRITE_BEHIND_MS": str(HOURS),
        "GUNICORN_ACCESS_LOG": "off",
        "METRICS_PORT": "0",
    }
    with gunicorn(environment, ready=_healthy) as address:
        for n in range(3):
            name_hash = identity.hash_name(f"guest {n}")
            answer = requests.get(f"http://{address}/monster/{name_hash}", timeout=10)
            assert answer.headers["X-Cache"] == "MISS"
        assert rows() == 0
        assert intents() == 3
    assert rows() == 3
    assert intents() == 0


def _healthy(address: str) -> bool:
    try:
        return requests.get(f"http://{address}/healthz", timeout=2).ok
    except requests.ConnectionError:
        return False


def test_rows_beyond_the_most_a_writer_may_hold_go_to_the_durable_queue(
    client, writer, settings, caplog
):
    settings.AUDIT_MAX_WAITING_ROWS = 2
    with caplog.at_level("WARNING", logger="monsters.audit.writer"):
        for n in range(4):
            miss(client, f"guest {n}")
    assert writer.pending() == 2
    assert audit.queue_length() == 2  # the overflow: queued, not dropped
    assert intents() == 2  # the queued rows' intents are forgotten, the held ones kept
    warnings = [record for record in caplog.records if "its most" in record.getMessage()]
    assert len(warnings) == 1  # once per change of state, not per row
    writer.flush()
    assert audit.flush_queue().written == 2
    assert rows() == 4
