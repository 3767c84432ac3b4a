"""No audit row is lost when the durable queue cannot help: with Redis down too, the row
waits in the process's memory until PostgreSQL is back, or is logged with every field
when it cannot be kept; a web miss stores its row's intent with its image, so a row whose
process died between the two is written from its intent, exactly once. The key test runs
with the suite's settings and with the audit write-behind (and the in-process tier) at
their production defaults."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from http import HTTPStatus

import pytest

from monsters.audit import held
from monsters.audit import record as audit
from monsters.images import identity, keys
from monsters.models import Generation
from tests.audit_outage import audit_database, empty_queue_around, flush
from tests.audit_rows import AuditDatabase, intents, rows, settle_audit
from tests.cache_points import point_cache_at
from tests.ports import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def database() -> Iterator[AuditDatabase]:
    with audit_database() as moved:
        yield moved


@pytest.fixture
def empty_queue() -> Iterator[None]:
    with empty_queue_around():
        yield


def test_with_redis_down_too_the_row_waits_in_memory_until_the_database_is_back(
    client, renderer_server, database, settings, caplog
):
    point_cache_at(settings, f"redis://127.0.0.1:{free_port()}/0")
    database.point_at(free_port())
    moby = identity.hash_name("Moby Dock")
    assert client.get(f"/monster/{moby}", {"size": 120}).status_code == HTTPStatus.OK
    assert held.count() == 1
    assert not [r for r in caplog.records if r.levelno == logging.ERROR]
    database.restore()
    settings.BREAKER_COOL_DOWN = 0  # the database's breaker lets the retry through
    held.retry()  # what the process's flusher does every RETRY_SECONDS
    assert held.count() == 0
    assert list(Generation.objects.values_list("name_hash", "size")) == [(moby, 120)]


def test_with_redis_down_too_a_row_that_cannot_be_kept_is_logged_with_every_field(
    client, renderer_server, database, settings, caplog
):
    settings.AUDIT_MAX_WAITING_ROWS = 0
    point_cache_at(settings, f"redis://127.0.0.1:{free_port()}/0")
    database.point_at(free_port())
    moby = identity.hash_name("Moby Dock")
    assert client.get(f"/monster/{moby}", {"size": 120}).status_code == HTTPStatus.OK
    [logged] = [r for r in caplog.records if r.levelno == logging.ERROR]
    fields = json.loads(logged.getMessage().split(": ", 1)[1])
    assert fields["name_hash"] == moby
    assert fields["size"] == "120"
    assert {"event_id", "source", "origin", "png_bytes", "render_ms", "created_at"} <= set(fields)


def _generation_of(name_hash: str) -> Generation:
    return audit.new_generation(
        name_hash=name_hash, size=80, source="dnmonster", origin="web", png_bytes=9, render_ms=1.0
    )


@pytest.mark.usefixtures("suite_and_production_defaults")
def test_a_miss_leaves_its_row_and_no_intent_behind(client, renderer_server, empty_queue):
    assert client.get(f"/monster/{identity.hash_name('Moby Dock')}")["X-Cache"] == "MISS"
    settle_audit()
    assert rows() == 1
    assert intents() == 0


def test_a_row_whose_process_died_after_caching_its_image_is_written_from_its_intent(
    renderer_server, empty_queue, monkeypatch
):
    from monsters.guards import cache

    ref = keys.locate(name_hash=identity.hash_name("Moby Dock"), size=80)
    generation = audit.new_generation(
        name_hash=ref.name_hash,
        size=80,
        source="dnmonster",
        origin="web",
        png_bytes=9,
        render_ms=1.0,
    )
    stream, fields = audit.intent_of(generation)
    assert cache.add_with_intent(ref.key, b"\x89PNG\r\n\x1a\n!", stream=stream, fields=fields)[0]
    # The process dies here, between its image and its row: nothing calls record().
    assert rows() == 0 and intents() == 1
    assert audit.flush_queue().written == 0  # too young: its process may still write it
    monkeypatch.setattr(audit, "ORPHAN_SECONDS", 0)
    assert audit.orphan_count() == 1
    assert audit.flush_queue(orphans_after=0).written == 1
    assert Generation.objects.get().event_id == generation.event_id
    assert audit.flush_queue().written == 0
    assert rows() == 1


def test_an_intent_is_stored_only_with_the_image(renderer_server, empty_queue):
    from monsters.guards import cache

    ref = keys.locate(name_hash=identity.hash_name("Moby Dock"), size=80)
    fields = audit.intent_of(
        audit.new_generation(
            name_hash=ref.name_hash,
            size=80,
            source="dnmonster",
            origin="web",
            png_bytes=9,
            render_ms=1.0,
        )
    )[1]
    assert cache.add_with_intent(
        ref.key, b"\x89PNG first", stream=audit.INTENTS_NAME, fields=fields
    )[0]
    stored, intent = cache.add_with_intent(
        ref.key, b"\x89PNG second", stream=audit.INTENTS_NAME, fields=fields
    )
    assert (stored, intent) == (False, None)
    assert intents() == 1
    assert cache.get(ref.key) == b"\x89PNG first"  # readable through the cache as ever


def test_flush_audit_writes_intents_of_any_age(renderer_server, empty_queue):
    from monsters.guards import cache

    ref = keys.locate(name_hash=identity.hash_name("Moby Dock"), size=80)
    stream, fields = audit.intent_of(_generation_of(ref.name_hash))
    cache.add_with_intent(ref.key, b"\x89PNG\r\n\x1a\n!", stream=stream, fields=fields)
    assert "wrote 1 queued audit rows" in flush()
    assert rows() == 1
