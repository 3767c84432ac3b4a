"""Redis refused, stuck or restarted: monsters keep coming (X-Cache: BYPASS), no request
waits a timeout once the breaker is open, caching resumes by itself, and the log says
so once per change of state."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from http import HTTPStatus

import pytest
import redis

from monsters.images import identity, keys, service
from monsters.models import Generation
from tests.cache_points import point_cache_at
from tests.ports import free_port
from tests.stuck_listener import StuckListener
from tests.waiting import cooled_down, eventually

pytestmark = pytest.mark.django_db

MOBY = identity.hash_name("Moby Dock")
URL = f"/monster/{MOBY}"


@pytest.fixture
def redis_refused(settings) -> None:
    point_cache_at(settings, f"redis://127.0.0.1:{free_port()}/0")


@pytest.fixture
def redis_stuck(settings) -> Iterator[StuckListener]:
    listener = StuckListener()
    point_cache_at(settings, f"redis://127.0.0.1:{listener.port}/0")
    yield listener
    listener.close()


class OwnRedis:
    """A redis-server of the test's own on a spare port, to stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_timeout=1)
        assert eventually(lambda: _answers(client), timeout=10), "redis-server did not start"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@pytest.fixture
def own_redis(settings) -> Iterator[OwnRedis]:
    server = OwnRedis()
    server.start()
    point_cache_at(settings, f"redis://127.0.0.1:{server.port}/0")
    yield server
    server.stop()


def test_monsters_are_served_with_bypass_while_redis_is_refused(
    client, renderer_server, redis_refused
):
    first, second = client.get(URL), client.get(URL)
    assert first.status_code == second.status_code == HTTPStatus.OK
    assert first["X-Cache"] == second["X-Cache"] == "BYPASS"
    assert first.content == second.content


def test_generations_are_still_recorded_while_redis_is_down(client, renderer_server, redis_refused):
    client.get(URL)
    assert Generation.objects.count() == 1


def test_a_stuck_redis_is_asked_only_until_its_breaker_opens(
    client, renderer_server, redis_stuck, settings
):
    responses = [client.get(URL, {"size": 16 + n}) for n in range(12)]
    assert all(r.status_code == HTTPStatus.OK for r in responses)
    assert {r["X-Cache"] for r in responses} == {"BYPASS"}
    # Each failed command costs one connection (and one timeout); then none at all but,
    # should the requests outlast the cool-down on a slow machine, one probe.
    assert len(redis_stuck.accepted) <= settings.BREAKER_FAILURES + 1


def test_an_outage_is_logged_once_not_per_request(client, renderer_server, redis_refused, caplog):
    caplog.set_level(logging.INFO)
    for size in range(16, 36):
        client.get(URL, {"size": size})
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warnings if "Redis" in r.getMessage()] == [
        next(r.getMessage() for r in warnings if "is down" in r.getMessage())
    ]
    assert not [r for r in warnings if r.exc_info]  # no traceback


def test_with_redis_down_this_process_keeps_what_it_rendered(
    client, renderer_server, redis_refused, settings
):
    settings.MONSTER_PROCESS_CACHE_MB = 1
    try:
        answers = [client.get(URL)["X-Cache"] for _ in range(5)]
    finally:
        settings.MONSTER_PROCESS_CACHE_MB = 0
    assert answers == ["BYPASS", "HIT", "HIT", "HIT", "HIT"]
    assert Generation.objects.count() == 1
    assert renderer_server.count == 1


def test_caching_resumes_by_itself_when_redis_is_back(
    client, renderer_server, own_redis, settings, caplog
):
    settings.BREAKER_COOL_DOWN = 0.2
    assert client.get(URL)["X-Cache"] == "MISS"
    own_redis.stop()
    outage = [client.get(URL, {"size": 16 + n})["X-Cache"] for n in range(5)]
    assert set(outage) == {"BYPASS"}
    own_redis.start()  # empty: it kept nothing
    # The breaker's cool-down, then one probe.
    assert eventually(lambda: cooled_down(settings.CACHES["monsters"]["LOCATION"]))
    assert client.get(URL)["X-Cache"] == "MISS"
    assert client.get(URL)["X-Cache"] == "HIT"
    assert "is back up" in caplog.text


def test_warm_cache_checks_say_nothing_is_cached_while_redis_is_down(redis_refused):
    assert service.cached_specs([keys.Spec(MOBY, 80)]) == set()
    assert service.cache_answers() is False
