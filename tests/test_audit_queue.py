"""No audit row is lost while PostgreSQL is away: with it closed or stuck, or a connection
closed under the app, generations wait in a durable queue (a Redis stream) and are written
exactly once when it is back, by `flush_audit` or by a process's own flusher, rows left
behind by a process that is gone included; a flusher that died holding the queue's lock
holds it up only briefly. The key tests run with the suite's settings and with the audit
write-behind (and the in-process tier) at their production defaults."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http import HTTPStatus

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_redis import get_redis_connection

from monsters.audit import flusher
from monsters.audit import record as audit
from monsters.images import identity
from monsters.models import Generation
from tests.audit_outage import audit_database, empty_queue_around, flush
from tests.audit_rows import AuditDatabase, rows, settle_audit
from tests.ports import free_port
from tests.stuck_listener import StuckListener
from tests.waiting import eventually

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def database() -> Iterator[AuditDatabase]:
    with audit_database() as moved:
        yield moved


@pytest.fixture
def empty_queue() -> Iterator[None]:
    with empty_queue_around():
        yield


def miss_20(client) -> None:
    for n in range(20):
        response = client.get(f"/monster/{identity.hash_name(f'guest {n}')}")
        assert response.status_code == HTTPStatus.OK
        assert response["X-Cache"] == "MISS"


@pytest.mark.usefixtures("suite_and_production_defaults")
def test_a_closed_database_loses_no_row_and_a_second_flush_adds_none(
    client, renderer_server, database, empty_queue
):
    database.point_at(free_port())
    miss_20(client)
    settle_audit()
    assert audit.queue_length() == 20
    database.restore()
    flush()
    assert rows() == 20
    assert Generation.objects.values("event_id").distinct().count() == 20
    assert "wrote 0 queued audit rows" in flush()
    assert rows() == 20
    assert audit.queue_length() == 0


@pytest.mark.usefixtures("suite_and_production_defaults")
def test_a_stuck_database_costs_a_few_connect_timeouts_then_none(
    client, renderer_server, database, empty_queue, settings
):
    stuck = StuckListener()
    try:
        database.point_at(stuck.port)
        miss_20(client)
        settle_audit()
        # One connection attempt per failure until the breaker opens, then none but
        # (were the cool-down over already) one probe.
        assert len(stuck.accepted) <= settings.BREAKER_FAILURES + 1
        assert audit.queue_length() == 20
    finally:
        stuck.close()
    database.restore()
    flush()
    assert rows() == 20
    flush()
    assert rows() == 20


def test_replaying_an_event_already_written_does_not_duplicate_it(renderer_server, empty_queue):
    generation = audit.new_generation(
        name_hash="a" * 64, size=80, source="builtin", origin="web", png_bytes=1, render_ms=1.0
    )
    audit.record([generation])
    audit._enqueue([generation])  # as if the write had been queued and also gone through
    report = audit.flush_queue()
    assert (report.written, report.replayed, report.left) == (0, 1, 0)
    assert rows() == 1


def test_a_queued_row_keeps_its_format_and_one_queued_before_formats_is_a_png(
    renderer_server, empty_queue
):
    svg = audit.new_generation(
        name_hash="b" * 64,
        size=80,
        fmt="svg",
        source="builtin",
        origin="web",
        png_bytes=1,
        render_ms=1.0,
    )
    audit._enqueue([svg])
    # An event queued by a process from before formats: no `format` field.
    old = audit.new_generation(
        name_hash="c" * 64, size=80, source="dnmonster", origin="web", png_bytes=1, render_ms=1.0
    )
    fields = {name: value for name, value in audit.to_fields(old).items() if name != "format"}
    get_redis_connection("monsters").xadd(audit._queue_key(), fields)
    flush()
    formats = dict(Generation.objects.values_list("name_hash", "format"))
    assert formats == {"b" * 64: "svg", "c" * 64: "png"}


@pytest.mark.usefixtures("suite_and_production_defaults")
def test_queued_rows_are_written_by_the_process_itself_once_the_database_is_back(
    client, renderer_server, database, empty_queue
):
    database.point_at(free_port())
    miss_20(client)
    settle_audit()  # queued, not written behind once the database is back
    database.restore()
    # The process's flusher retries every couple of seconds.
    assert eventually(lambda: rows() == 20 and audit.queue_length() == 0)


def test_rows_queued_by_a_process_that_is_gone_are_written_once_a_row_goes_through(
    renderer_server, empty_queue, monkeypatch
):
    # As a web process leaves them when it is replaced (max_requests, a deploy) before
    # the database is back: in the queue, with no flusher of this process to write them.
    if flusher._flusher is not None:
        flusher._flusher.join(10)
    left_behind = [
        audit.new_generation(
            name_hash=f"{n:064x}", size=80, source="builtin", origin="web", png_bytes=1, render_ms=1
        )
        for n in range(5)
    ]
    for generation in left_behind:
        audit._redis().xadd(audit._queue_key(), audit.to_fields(generation))
    monkeypatch.setattr(flusher, "_last_queue_check", 0.0)  # a process that has not looked yet
    audit.record(
        [
            audit.new_generation(
                name_hash="b" * 64,
                size=80,
                source="builtin",
                origin="web",
                png_bytes=1,
                render_ms=1,
            )
        ]
    )
    # The flusher retries every couple of seconds.
    assert eventually(lambda: rows() == 6 and audit.queue_length() == 0), (
        rows(),
        audit.queue_length(),
    )


def test_a_flusher_that_died_holding_the_lock_holds_up_flush_audit_only_briefly(
    renderer_server, empty_queue, monkeypatch
):
    # A web process's flusher takes the lock, and its process exits mid-flush (gunicorn
    # replaces workers every GUNICORN_MAX_REQUESTS): nobody ever releases the lock.
    monkeypatch.setattr(audit, "lock_seconds", lambda: 1.0)
    client = audit._redis()
    assert audit._flush_lock(client, wait=0).acquire()
    for n in range(3):
        generation = audit.new_generation(
            name_hash=f"{n:064x}", size=80, source="builtin", origin="web", png_bytes=1, render_ms=1
        )
        client.xadd(audit._queue_key(), audit.to_fields(generation))
    assert "wrote 3 queued audit rows" in flush()
    assert rows() == 3


def test_flush_audit_says_so_when_another_process_is_writing_the_queue(
    renderer_server, empty_queue, monkeypatch
):
    monkeypatch.setattr(audit, "lock_seconds", lambda: 1.0)
    busy = audit._redis().lock(
        audit._key(audit.LOCK_NAME), timeout=audit.lock_seconds(), thread_local=False
    )
    assert busy.acquire()
    stop = threading.Event()

    def keep_writing() -> None:
        # A live flusher renews its lock batch after batch: 0.3 s is a batch's pace,
        # well inside the lock's second, and `stop` ends it at once.
        while not stop.wait(0.3):
            busy.reacquire()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        with pytest.raises(CommandError, match="another process is writing the queue"):
            call_command("flush_audit", stdout=io.StringIO())
    finally:
        stop.set()
        writer.join()
        busy.release()


@pytest.mark.usefixtures("suite_and_production_defaults")
def test_flush_audit_says_so_when_the_database_still_refuses(
    client, renderer_server, database, empty_queue
):
    database.point_at(free_port())
    client.get(f"/monster/{identity.hash_name('Moby Dock')}")
    settle_audit()
    with pytest.raises(CommandError, match="still cannot take the rows"):
        call_command("flush_audit", stdout=io.StringIO())
    database.restore()
    flush()
    assert rows() == 1


def test_a_connection_closed_under_the_app_queues_the_row_instead_of_failing(
    client, renderer_server, empty_queue
):
    connection.ensure_connection()
    connection.connection.close()  # psycopg2's own: Django sees InterfaceError, not a DatabaseError
    response = client.get(f"/monster/{identity.hash_name('Moby Dock')}")
    assert response.status_code == HTTPStatus.OK
    assert audit.queue_length() == 1
    connection.close()
    flush()
    assert rows() == 1
