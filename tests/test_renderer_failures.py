"""A renderer that is down, slow or answers garbage: 503/504, nothing cached or recorded."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.core.cache import caches

from monsters import identity, service, sources
from monsters.models import Generation

pytestmark = pytest.mark.django_db

MOBY = identity.hash_name("Moby Dock")
URL = f"/monster/{MOBY}"


def _nothing_cached_or_recorded() -> bool:
    key = service.locate(name_hash=MOBY, size=80).key
    return caches["monsters"].get(key) is None and not Generation.objects.exists()


def _assert_short_text(response) -> None:
    assert response["Content-Type"].startswith("text/plain")
    assert len(response.content) < 200
    assert b"Traceback" not in response.content


def test_refused_connection_is_503(client, refusing_renderer):
    response = client.get(URL)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    _assert_short_text(response)
    assert _nothing_cached_or_recorded()


def test_renderer_hanging_past_the_read_timeout_is_504(client, bad_renderer):
    bad_renderer.mode = "hang"
    response = client.get(URL)
    assert response.status_code == HTTPStatus.GATEWAY_TIMEOUT
    _assert_short_text(response)
    assert _nothing_cached_or_recorded()


@pytest.mark.parametrize("mode", ["error", "html", "not-png", "huge", "huge-undeclared"])
def test_renderer_answering_garbage_is_503(client, bad_renderer, mode):
    bad_renderer.mode = mode
    response = client.get(URL)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    _assert_short_text(response)
    assert response["Cache-Control"] == "no-store"
    assert _nothing_cached_or_recorded()


def test_failures_raise_source_errors_from_the_service(bad_renderer):
    bad_renderer.mode = "html"
    with pytest.raises(sources.InvalidImage):
        service.get_identicon(service.locate(name_hash=MOBY, size=80))


def test_read_timeouts_are_not_retried(client, bad_renderer):
    bad_renderer.mode = "hang"
    client.get(URL)
    assert bad_renderer.hits == 1


def test_renderer_recovering_serves_the_monster(client, refusing_renderer, renderer_server):
    # renderer_server re-points DNMONSTER_URL at a working renderer after a failure.
    response = client.get(URL)
    assert response.status_code == HTTPStatus.OK
    assert response["X-Cache"] == "MISS"
