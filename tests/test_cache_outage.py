"""Redis down: the site keeps serving monsters without a cache, and says so in the log."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.conf import settings as django_settings

from monsters import identity
from monsters.models import Generation

pytestmark = pytest.mark.django_db

URL = f"/monster/{identity.hash_name('Moby Dock')}"


@pytest.fixture
def redis_down(settings, unused_port):
    monsters_cache = dict(django_settings.CACHES["monsters"])
    monsters_cache["LOCATION"] = f"redis://127.0.0.1:{unused_port}/0"
    settings.CACHES = {**django_settings.CACHES, "monsters": monsters_cache}


def test_monsters_are_served_while_redis_is_down(client, renderer_server, redis_down, caplog):
    first = client.get(URL)
    second = client.get(URL)
    assert first.status_code == second.status_code == HTTPStatus.OK
    assert first["X-Cache"] == second["X-Cache"] == "MISS"
    assert first.content == second.content
    assert "Exception ignored" in caplog.text  # django-redis logs every ignored outage


def test_generations_are_still_recorded_while_redis_is_down(client, renderer_server, redis_down):
    client.get(URL)
    assert Generation.objects.count() == 1
