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
    key = f"monster:v1:dnmonster:80:{MOBY}"
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
