"""monsters.cache_entries: presence, warming and eviction of (hash, size) pairs."""

from __future__ import annotations

import pytest

from monsters import cache_entries, service
from monsters.models import Generation

pytestmark = pytest.mark.django_db

MOBY = "9" * 64
JOE = "8" * 64


def test_cached_entries_names_only_the_entries_in_the_cache(renderer_server):
    service.get_identicon(identifier=MOBY, size=80)
    found = cache_entries.cached_entries(entries=[(MOBY, 80), (MOBY, 160), (JOE, 80)])
    assert found == {(MOBY, 80)}


def test_warm_entries_records_the_origin_it_is_given(renderer_server):
    report = cache_entries.warm_entries(entries=[(MOBY, 40)], origin=Generation.Origin.WARM)
    assert report == cache_entries.WarmReport(warmed=1)
    assert Generation.objects.get().origin == Generation.Origin.WARM


def test_warm_entries_twice_warms_nothing_the_second_time(renderer_server):
    cache_entries.warm_entries(entries=[(MOBY, 80), (JOE, 80)])
    report = cache_entries.warm_entries(entries=[(MOBY, 80), (JOE, 80)])
    assert report == cache_entries.WarmReport(already_cached=2)
    assert renderer_server.count == 2


def test_warm_entries_reports_a_timeout_and_gives_up_on_the_rest(bad_renderer):
    bad_renderer.mode = "hang"
    report = cache_entries.warm_entries(entries=[(MOBY, 80), (JOE, 80)])
    assert report.failed == 2
    assert report.warmed == 0
    assert bad_renderer.hits == 1
    assert "in time" in report.problems[0]


def test_evict_entries_removes_them_and_counts_what_was_not_cached(renderer_server):
    service.get_identicon(identifier=MOBY, size=80)
    report = cache_entries.evict_entries(entries=[(MOBY, 80), (JOE, 80)])
    assert report == cache_entries.EvictReport(evicted=1, not_cached=1)
    assert cache_entries.cached_entries(entries=[(MOBY, 80)]) == set()
    assert Generation.objects.count() == 1
