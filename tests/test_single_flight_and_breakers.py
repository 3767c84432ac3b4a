"""Concurrent misses of one image make one render; a renderer that is down is skipped
fast (503 with Retry-After) while hits keep working; /readyz is cheap however often
it is asked."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus

import pytest
from django.db import connection
from django.test import Client

from monsters.images import identity
from monsters.models import Generation
from monsters.web import health
from tests.waiting import cooled_down, eventually

pytestmark = pytest.mark.django_db(transaction=True)

MOBY = identity.hash_name("Moby Dock")


def _get(url: str):
    try:
        return Client().get(url)
    finally:
        connection.close()


def test_32_concurrent_misses_of_one_new_image_make_one_render_and_one_row(bad_renderer, settings):
    settings.RATE_LIMIT_MISS_BURST = 64  # one client here; the limit has tests of its own
    bad_renderer.mode = "slow"  # a real monster, after a pause
    bad_renderer.hang_seconds = 0.3
    url = f"/monster/{MOBY}?size=80"
    with ThreadPoolExecutor(max_workers=32) as pool:
        responses = list(pool.map(_get, [url] * 32))
    assert [r.status_code for r in responses] == [HTTPStatus.OK] * 32
    assert bad_renderer.hits == 1
    assert Generation.objects.count() == 1
    assert len({r.content for r in responses}) == 1
    assert sorted(r["X-Cache"] for r in responses) == ["HIT"] * 31 + ["MISS"]


def test_waiters_render_themselves_when_the_first_render_fails(bad_renderer):
    bad_renderer.mode = "not-png"
    url = f"/monster/{MOBY}?size=80"
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(_get, [url] * 4))
    # Nobody waits forever on a failed leader: each answers, none is a 200 of garbage.
    assert {r.status_code for r in responses} == {HTTPStatus.SERVICE_UNAVAILABLE}


def test_a_renderer_that_is_down_is_skipped_fast_with_retry_after(
    client, refusing_renderer, settings
):
    first = [client.get(f"/monster/{identity.hash_name(f'n{n}')}") for n in range(3)]
    assert {r.status_code for r in first} == {HTTPStatus.SERVICE_UNAVAILABLE}
    skipped = client.get(f"/monster/{identity.hash_name('next')}")
    assert skipped.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert 1 <= int(skipped["Retry-After"]) <= settings.BREAKER_COOL_DOWN
    assert skipped["Cache-Control"] == "no-store"


def test_hits_keep_working_while_the_renderer_is_down(client, renderer_server, settings):
    url = f"/monster/{MOBY}"
    assert client.get(url)["X-Cache"] == "MISS"  # cached now
    settings.DNMONSTER_URL = "http://127.0.0.1:9"  # same art, but nothing answers there
    misses = [client.get(f"/monster/{identity.hash_name(f'miss {n}')}") for n in range(5)]
    assert {r.status_code for r in misses} == {HTTPStatus.SERVICE_UNAVAILABLE}
    hit = client.get(url)
    assert hit.status_code == HTTPStatus.OK and hit["X-Cache"] == "HIT"


def test_a_probe_after_the_cool_down_closes_the_breaker(client, bad_renderer, settings):
    settings.BREAKER_COOL_DOWN = 0.2
    bad_renderer.mode = "error"
    for n in range(3):
        client.get(f"/monster/{identity.hash_name(f'n{n}')}")
    assert "Retry-After" in client.get(f"/monster/{MOBY}")
    bad_renderer.mode = "slow"
    bad_renderer.hang_seconds = 0.01
    assert eventually(lambda: cooled_down(bad_renderer.url))  # then one probe may go through
    response = client.get(f"/monster/{MOBY}")
    assert response.status_code == HTTPStatus.OK
    assert client.get(f"/monster/{identity.hash_name('after')}").status_code == HTTPStatus.OK


def test_readiness_is_checked_once_per_ttl_not_per_call(
    client, renderer_server, settings, monkeypatch
):
    settings.READINESS_TTL = 60
    monkeypatch.setattr(health, "_verdict", None)  # a verdict of this test's own
    answers = [client.get("/readyz") for _ in range(20)]
    assert {r.status_code for r in answers} == {HTTPStatus.OK}
    assert renderer_server.count == 1  # one tiny render for 20 probes


def test_503s_of_a_renderer_outage_are_not_logged_one_by_one(client, refusing_renderer, caplog):
    for n in range(10):
        client.get(f"/monster/{identity.hash_name(f'n{n}')}")
    assert not [r for r in caplog.records if r.name in ("django.request", "urllib3.connectionpool")]
    assert caplog.text.count("is down") == 1
