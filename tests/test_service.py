"""get_identicon(): the one orchestrator, exercised without the web layer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import caches
from django.db import connection

from monsters import cache, identity, service
from monsters.models import Generation

pytestmark = pytest.mark.django_db(transaction=True)

MOBY = identity.hash_name("Moby Dock")


def test_cache_key_follows_the_documented_schema():
    key = cache.monster_key(source="dnmonster", size=80, identifier=MOBY)
    assert key == f"monster:v1:dnmonster:80:{MOBY}"


def test_entries_are_stored_in_redis_under_the_plain_key_without_expiry(renderer_server):
    service.get_identicon(identifier=MOBY, size=80)
    redis = caches["monsters"].client.get_client()
    # Under the deployment's CACHE_KEY_PREFIX (each test run has one of its own).
    key = f"{caches['monsters'].key_prefix}:monster:v1:dnmonster:80:{MOBY}"
    assert redis.exists(key) == 1
    assert redis.ttl(key) == -1  # no expiry: Redis evicts by LRU


def test_origin_is_recorded(renderer_server):
    service.get_identicon(identifier=MOBY, size=80, origin=Generation.Origin.WARM)
    assert Generation.objects.get().origin == "warm"


def test_force_regenerates_a_cached_entry_and_records_it(renderer_server):
    service.get_identicon(identifier=MOBY, size=80)
    again = service.get_identicon(identifier=MOBY, size=80, force=True)
    assert again.cache_hit is False
    assert renderer_server.count == 2
    assert Generation.objects.count() == 2


def _get_in_thread(size: int) -> service.Identicon:
    try:
        return service.get_identicon(identifier=MOBY, size=size)
    finally:
        connection.close()  # each thread has its own connection; leave none open


def test_concurrent_misses_for_one_key_record_one_generation(renderer_server):
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(_get_in_thread, [64] * 8))
    assert len({r.png for r in results}) == 1
    assert Generation.objects.count() == 1


def test_etag_is_known_without_touching_the_cache(renderer_server):
    etag = service.identicon_etag(identifier=MOBY, size=80)
    assert caches["monsters"].get(f"monster:v1:dnmonster:80:{MOBY}") is None
    assert service.get_identicon(identifier=MOBY, size=80).etag == etag


def test_generate_identicon_stores_and_records_without_reading_the_cache(renderer_server):
    stored = service.generate_identicon(identifier=MOBY, size=80, origin="warm")
    assert stored is True
    assert caches["monsters"].get(f"monster:v1:dnmonster:80:{MOBY}") is not None
    assert Generation.objects.get().origin == "warm"


def test_generate_identicon_records_nothing_when_another_writer_cached_it_first(renderer_server):
    service.get_identicon(identifier=MOBY, size=80)
    stored = service.generate_identicon(identifier=MOBY, size=80, origin="warm")
    assert stored is False
    assert renderer_server.count == 2  # rendered, but lost the SET NX
    assert list(Generation.objects.values_list("origin", flat=True)) == ["web"]


def test_audit_batch_writes_its_rows_when_full_and_the_rest_on_flush(renderer_server):
    audit = service.AuditBatch(size=2)
    for size in (16, 32, 48):
        service.generate_identicon(identifier=MOBY, size=size, origin="warm", audit=audit)
    assert sorted(Generation.objects.values_list("size", flat=True)) == [16, 32]
    audit.flush()
    assert sorted(Generation.objects.values_list("size", flat=True)) == [16, 32, 48]


def test_cached_identicons_answers_which_entries_are_cached_in_one_call(renderer_server):
    service.get_identicon(identifier=MOBY, size=80)
    other = identity.hash_name("Alice")
    assert service.cached_identicons([(MOBY, 80), (MOBY, 64), (other, 80)]) == {(MOBY, 80)}


def test_renderer_revision_keeps_each_renderers_monsters_apart(renderer_server, settings):
    before = service.identicon_etag(identifier=MOBY, size=80)
    service.get_identicon(identifier=MOBY, size=80)
    settings.DNMONSTER_REVISION = "amouat-1.0"
    assert service.identicon_etag(identifier=MOBY, size=80) != before
    # Not served from the other renderer's entry: generated again, under its own key.
    assert service.get_identicon(identifier=MOBY, size=80).cache_hit is False
    key = f"monster:v1:dnmonster-amouat-1.0:80:{MOBY}"
    assert caches["monsters"].get(key) is not None
