"""The in-process tier in front of Redis (`MONSTER_PROCESS_CACHE_MB`): a hit from it needs
no Redis, it holds at most its size in bytes and keeps the most recent, an eviction
reaches it, and 0 turns it off."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from monsters.guards import cache
from monsters.images import identity, keys, service

pytestmark = pytest.mark.django_db(transaction=True)

MOBY = identity.hash_name("Moby Dock")
PATH = f"/monster/{MOBY}"


def current_query(size: int = 80) -> str:
    return f"size={size}&v={keys.current_revision()}"


@pytest.fixture
def process_tier(settings):
    settings.MONSTER_PROCESS_CACHE_MB = 1
    tier = cache.process_tier()
    assert tier is not None
    yield tier
    settings.MONSTER_PROCESS_CACHE_MB = 0
    assert cache.process_tier() is None  # dropped: the next test starts with an empty one


def test_a_hit_from_the_process_tier_needs_no_redis(client, renderer_server, process_tier):
    url = f"{PATH}?{current_query()}"
    assert client.get(url)["X-Cache"] == "MISS"
    # Redis loses the entry; this process still has it.
    cache.monster_cache().delete(keys.locate(name_hash=MOBY, size=80).key)
    response = client.get(url)
    assert response.status_code == HTTPStatus.OK and response["X-Cache"] == "HIT"
    assert process_tier.hits == 1
    assert renderer_server.count == 1


def test_the_process_tier_is_bounded_in_bytes_and_keeps_the_most_recent(process_tier):
    png = b"\x89PNG" + b"\0" * (300 * 1024)
    for n in range(5):  # 1.5 MB into a 1 MB tier
        process_tier.put(f"key-{n}", png)
    assert process_tier.get("key-0") is None
    assert process_tier.get("key-4") == png
    assert process_tier.hits == 1 and process_tier.misses == 1


def test_eviction_reaches_this_processs_tier(client, renderer_server, process_tier):
    url = f"{PATH}?{current_query()}"
    client.get(url)
    service.evict_specs([keys.Spec(MOBY, 80)])
    assert client.get(url)["X-Cache"] == "MISS"


def test_setting_the_tier_to_zero_turns_it_off(settings):
    settings.MONSTER_PROCESS_CACHE_MB = 0
    assert cache.process_tier() is None
