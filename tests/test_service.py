"""monsters.images.service: the one orchestrator and the one home of keys and ETags,
exercised without the web layer."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import caches
from django.db import connection

import renderer
from monsters.audit.writer import Batcher
from monsters.images import identity, keys, service
from monsters.images.keys import Spec
from monsters.models import Generation

pytestmark = pytest.mark.django_db(transaction=True)

MOBY = identity.hash_name("Moby Dock")
JOE = identity.hash_name("Joe Bloggs")


def moby(size: int = 80) -> keys.Address:
    return keys.locate(name_hash=MOBY, size=size)


def test_cache_key_names_the_schema_revision_size_and_hash(renderer_server, settings):
    settings.DNMONSTER_REVISION = "identidock-r7"
    assert moby().key == f"monster:v1:identidock-r7:80:{MOBY}"


def test_the_builtin_renderers_revision_follows_its_version(settings):
    settings.DNMONSTER_URL = ""
    assert moby().revision == f"builtin-r{renderer.RENDERER_VERSION}"


def test_an_http_renderer_without_a_revision_setting_has_a_revision_of_its_own(
    renderer_server, settings
):
    settings.DNMONSTER_REVISION = ""
    settings.DNMONSTER_URL = renderer_server.url
    with_url = moby().revision
    settings.DNMONSTER_URL = ""
    assert with_url != moby().revision


def test_entries_are_stored_under_their_key_without_expiry(renderer_server):
    ref = moby()
    service.get_picture(ref)
    backend = caches["monsters"]
    assert backend.get(ref.key) is not None
    assert backend.ttl(ref.key) is None  # no expiry: Redis evicts by LRU


def test_origin_is_recorded(renderer_server):
    service.get_picture(moby(), origin=Generation.Origin.WARM)
    assert Generation.objects.get().origin == "warm"


def test_force_regenerates_a_cached_entry_and_records_it(renderer_server):
    service.get_picture(moby())
    again = service.get_picture(moby(), force=True)
    assert again.cache_hit is False
    assert renderer_server.count == 2
    assert Generation.objects.count() == 2


def _get_in_thread(size: int) -> service.Picture:
    try:
        return service.get_picture(moby(size))
    finally:
        connection.close()  # each thread has its own connection; leave none open


def test_concurrent_misses_for_one_key_record_one_generation(renderer_server):
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(_get_in_thread, [64] * 8))
    assert len({r.image for r in results}) == 1
    assert Generation.objects.count() == 1


def test_etag_is_known_without_touching_the_cache(renderer_server):
    ref = moby()
    assert caches["monsters"].get(ref.key) is None
    assert service.get_picture(ref).address.etag == ref.etag


def test_etag_differs_by_hash_size_and_revision(renderer_server, settings):
    etags = {moby().etag, moby(81).etag, keys.locate(name_hash=JOE, size=80).etag}
    settings.DNMONSTER_REVISION = "amouat-1.0"
    etags.add(moby().etag)
    assert len(etags) == 4


def test_generate_identicon_stores_and_records_without_reading_the_cache(renderer_server):
    ref = moby()
    assert service.generate_picture(ref, origin="warm") is True
    assert caches["monsters"].get(ref.key) is not None
    assert Generation.objects.get().origin == "warm"


def test_generate_identicon_records_nothing_when_another_writer_cached_it_first(renderer_server):
    service.get_picture(moby())
    assert service.generate_picture(moby(), origin="warm") is False
    assert renderer_server.count == 2  # rendered, but lost the SET NX
    assert list(Generation.objects.values_list("origin", flat=True)) == ["web"]


def test_audit_batch_writes_when_full_and_the_rest_on_flush(renderer_server):
    audit = Batcher(size=2)
    for size in (16, 32, 48):
        service.generate_picture(moby(size), origin="warm", audit=audit)
        audit.write_if_full()
    assert sorted(Generation.objects.values_list("size", flat=True)) == [16, 32]
    audit.flush()
    assert sorted(Generation.objects.values_list("size", flat=True)) == [16, 32, 48]


def test_cached_entries_answers_which_entries_are_cached(renderer_server):
    service.get_picture(moby())
    asked = [Spec(MOBY, 80), Spec(MOBY, 64), Spec(JOE, 80)]
    assert service.cached_specs(asked) == {Spec(MOBY, 80)}


def test_evict_deletes_only_what_is_cached_and_keeps_the_audit_rows(renderer_server):
    service.get_picture(moby())
    report = service.evict_specs([Spec(MOBY, 80), Spec(JOE, 80)])
    assert report == service.EvictReport(evicted=1, not_cached=1)
    assert service.cached_specs([Spec(MOBY, 80)]) == set()
    assert Generation.objects.count() == 1


def test_a_miss_right_after_an_evict_draws_at_once_not_after_the_last_renders_lock(
    renderer_server, settings
):
    # The render budget (the renderer's timeouts plus a margin) is how long a render's
    # lock outlives it: long here, so a miss that waited on it could not pass.
    settings.DNMONSTER_READ_TIMEOUT = 60
    service.get_picture(moby())
    service.evict_specs([Spec(MOBY, 80)])
    started = time.monotonic()
    picture = service.get_picture(moby())
    assert picture.cache_status == service.MISS
    assert time.monotonic() - started < 30
    assert renderer_server.count == 2


def test_renderer_revision_keeps_each_renderers_monsters_apart(renderer_server, settings):
    before = moby()
    service.get_picture(before)
    settings.DNMONSTER_REVISION = "amouat-1.0"
    after = moby()
    assert after.etag != before.etag
    # Not served from the other renderer's entry: generated again, under its own key.
    assert service.get_picture(after).cache_hit is False
    assert caches["monsters"].get(after.key) is not None
    assert caches["monsters"].get(before.key) is not None


def test_cache_answers_is_false_when_redis_is_unreachable(settings, unused_port):
    assert service.cache_answers() is True
    monsters = dict(settings.CACHES["monsters"])
    monsters["LOCATION"] = f"redis://127.0.0.1:{unused_port}/0"
    monsters["OPTIONS"] = {**monsters["OPTIONS"], "SOCKET_CONNECT_TIMEOUT": 0.2}
    settings.CACHES = {**settings.CACHES, "monsters": monsters}
    assert service.cache_answers() is False
