"""Redis Sentinel: the primary dies under load, or is demoted on purpose, and the site
keeps answering: no 5xx, hits keep coming from the replica, new monsters are answered
BYPASS from the failure until at most one breaker cool-down after a sentinel names the
new primary, then caching resumes on that one.

Each test starts a primary, a replica and three sentinels of its own on spare ports
(scripts/failover/topology.py) and points the monster cache at them with the settings
settings.py makes of REDIS_SENTINELS, under a service name of the test's own.
"""

from __future__ import annotations

import contextlib
import logging
import runpy
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches
from django.db import connection
from django.test import Client

from monsters.guards import cache
from monsters.guards.breaker import all_breakers
from monsters.images import keys
from scripts.failover.drill import Load, figures, new_monster_path
from scripts.failover.topology import Topology
from tests.cache_points import point_cache_at
from tests.waiting import eventually

pytestmark = pytest.mark.django_db(transaction=True)

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
FAILOVER_TIMEOUT_SECONDS = 15.0
# Scheduling on a busy two-core machine: how late a thread may notice what changed.
SLACK_SECONDS = 1.0


def _sentinel_cache(topology: Topology, monkeypatch: pytest.MonkeyPatch) -> dict:
    """The monster cache settings.py makes of REDIS_SENTINELS and REDIS_SENTINEL_SERVICE
    for `topology` (the file run afresh with them set), with the suite's generous
    timeouts, as settings_test.py gives the one-server cache."""
    with monkeypatch.context() as patch:
        patch.setenv("REDIS_URL", "")
        patch.setenv("REDIS_SENTINELS", topology.sentinels_setting)
        patch.setenv("REDIS_SENTINEL_SERVICE", topology.service)
        made = runpy.run_path(str(ROOT / "identidock" / "settings.py"))["CACHES"]["monsters"]
    generous = django_settings.CACHES["monsters"]["OPTIONS"]["SOCKET_TIMEOUT"]
    options = made["OPTIONS"] | {
        "SOCKET_CONNECT_TIMEOUT": generous,
        "SOCKET_TIMEOUT": generous,
        "SENTINEL_KWARGS": {"socket_connect_timeout": generous, "socket_timeout": generous},
    }
    return made | {"OPTIONS": options}


@pytest.fixture
def topology(tmp_path) -> Iterator[Topology]:
    # A service name of its own: django-redis keeps its pools per URL for the process.
    with Topology(tmp_path, service=f"identidock-{secrets.token_hex(4)}") as running:
        yield running


@pytest.fixture
def sentinel_cache(topology, settings, monkeypatch) -> Topology:
    monsters_cache = _sentinel_cache(topology, monkeypatch)
    settings.CACHES = {**django_settings.CACHES, "monsters": monsters_cache}
    # One client makes every request here; the limiter still runs (on the primary).
    settings.RATE_LIMIT_MISSES_PER_MINUTE = settings.RATE_LIMIT_MISS_BURST = 1_000_000
    return topology


_clients = threading.local()


def _fetch(path: str) -> tuple[int, str]:
    """One GET through Django, with a test client per thread."""
    if not hasattr(_clients, "client"):
        _clients.client = Client()
    response = _clients.client.get(path)
    return response.status_code, response.get("X-Cache", "")


def _stored_key(path: str) -> str:
    """The Redis key of the monster at `path` (/monster/<hash>?size=80)."""
    name_hash = path.split("/")[2].split("?")[0]
    return str(caches["monsters"].make_key(keys.locate(name_hash=name_hash, size=80).key))


def _cache_breaker(topology: Topology, side: str):
    """The monster cache's breaker for "writes" or "reads" against `topology`."""
    return next(
        breaker
        for breaker in all_breakers()
        if topology.sentinels_setting in breaker.name and f"({side} " in breaker.name
    )


def test_when_the_primary_is_killed_hits_go_on_and_caching_resumes_within_a_cool_down(
    sentinel_cache: Topology, settings: Any
) -> None:
    topology = sentinel_cache
    warm = [new_monster_path() for _ in range(12)]
    assert {_fetch(path)[1] for path in warm} == {"MISS"}
    topology.client(topology.primary_port).wait(1, 2000)  # the replica has them all
    old_primary = topology.primary_port

    asked: list[tuple[float, str]] = []  # (when, X-Cache) of every answer so far

    def fetch(path: str) -> tuple[int, str]:
        started = time.monotonic()
        status, cache = _fetch(path)
        asked.append((started, cache))
        return status, cache

    def answered(cache: str, *, after: float = 0.0) -> bool:
        return any(cache == seen and started > after for started, seen in list(asked))

    load = Load(fetch, hit_paths=warm, finish=lambda: connection.close())
    load.start()
    try:
        # The steady state first: hits and new monsters both answered.
        assert eventually(lambda: answered("HIT") and answered("MISS"), timeout=30)
        killed_at = topology.kill(old_primary)
        new_primary, switched_at = topology.wait_for_primary_other_than(
            old_primary, FAILOVER_TIMEOUT_SECONDS
        )
        # The latest a new monster may still go uncached: a breaker on writes opened
        # at the last moment, its cool-down, then its probe. Load goes on until a new
        # monster asked for after that is cached again.
        latest = switched_at + settings.BREAKER_COOL_DOWN + SLACK_SECONDS
        resumed = eventually(
            lambda: answered("MISS", after=latest),
            timeout=latest - time.monotonic() + FAILOVER_TIMEOUT_SECONDS,
        )
    finally:
        answers = load.stop()
    seen = figures(answers, killed_at=killed_at, switched_at=switched_at)
    writes, reads = _cache_breaker(topology, "writes"), _cache_breaker(topology, "reads")
    opened = f"breakers opened: writes {writes.times_opened}, reads {reads.times_opened}"
    for line in [*seen.lines(), opened]:
        logger.info("Failover: %s", line)
    report = "; ".join([*seen.lines(), opened])

    assert seen.statuses == {HTTPStatus.OK: len(answers)}, report
    # Hits are read from the replica, which lives on and is promoted (a read in flight
    # as Sentinel closes its clients' connections then is asked again).
    assert seen.bypass_hits == 0, report
    assert reads.times_opened == 0, report
    # New monsters are not stored while the primary is gone, nor for the rest of the
    # cool-down of the breaker on writes, which opened then: at most one cool-down late.
    bypassed = [answer for answer in answers if answer.cache == "BYPASS"]
    assert resumed, report
    assert all(answer.ended >= killed_at for answer in bypassed), report
    assert all(answer.started <= latest for answer in bypassed), report
    assert any(answer.started > latest for answer in answers), report  # the load went on
    assert seen.first_miss_after_failover is not None, report  # new monsters cached again

    after = new_monster_path()
    assert [_fetch(after)[1] for _ in range(2)] == ["MISS", "HIT"]
    assert topology.role(new_primary) == "master"
    assert topology.client(new_primary).exists(_stored_key(after))
    assert writes.state == "closed"


def test_after_a_switchover_writes_leave_the_demoted_primary(sentinel_cache, settings):
    topology = sentinel_cache
    before = new_monster_path()
    # Both pools now hold connections: writes to the primary, reads to the replica.
    assert [_fetch(before)[1] for _ in range(2)] == ["MISS", "HIT"]
    old_primary = topology.primary_port

    topology.switch_over()
    new_primary, _ = topology.wait_for_primary_other_than(old_primary, FAILOVER_TIMEOUT_SECONDS)
    topology.wait_until_replica(old_primary, FAILOVER_TIMEOUT_SECONDS)  # alive, read-only

    # Demoting it, Sentinel closed its clients' connections (and redis-py drops one
    # that meets READONLY): every pool asks the sentinels again, and every write from
    # now on is on the new primary. Nobody is refused.
    paths = [new_monster_path() for _ in range(settings.BREAKER_FAILURES + 3)]
    answers = [_fetch(path) for path in paths]
    assert answers == [(HTTPStatus.OK, "MISS")] * len(paths)
    new_client = topology.client(new_primary)
    assert all(new_client.exists(_stored_key(path)) for path in paths)

    after = new_monster_path()
    assert [_fetch(after)[1] for _ in range(2)] == ["MISS", "HIT"]
    assert topology.client(new_primary).exists(_stored_key(after))
    assert topology.role(old_primary) == "slave"
    assert _cache_breaker(topology, "writes").times_opened == 0


class ResettingProxy:
    """A TCP proxy in front of the suite's Redis that, once armed, closes a client's
    connection as its next command arrives, unanswered: what Sentinel's CLIENT KILL
    does to a command in flight on a replica it promotes."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.armed = threading.Event()
        self.resets = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream, timeout=5)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pump, args=(source, target, source is client), daemon=True
                ).start()

    def _pump(self, source: socket.socket, target: socket.socket, from_client: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if from_client and self.armed.is_set():
                    self.armed.clear()
                    self.resets += 1
                    break
                target.sendall(data)
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def resetting_proxy(settings) -> Iterator[ResettingProxy]:
    """The monster cache, one server (the suite's Redis), reached through the proxy."""
    url = django_settings.CACHES["monsters"]["LOCATION"]
    host, port = url.split("//")[1].split("/")[0].split(":")
    proxy = ResettingProxy((host, int(port)))
    point_cache_at(settings, url.replace(f"{host}:{port}", f"127.0.0.1:{proxy.port}"))
    yield proxy
    proxy.close()


def test_a_read_whose_connection_is_closed_under_it_is_asked_again(resetting_proxy):
    cache.add("monster:test:read", b"png")  # the pool now holds a connection
    resetting_proxy.armed.set()
    assert cache.get("monster:test:read") == b"png"
    assert resetting_proxy.resets == 1


def test_a_write_whose_connection_is_closed_under_it_is_not_sent_again(resetting_proxy):
    cache.add("monster:test:first", b"png")
    resetting_proxy.armed.set()
    with pytest.raises(cache.CacheUnavailable):
        cache.add("monster:test:second", b"png")
    assert resetting_proxy.resets == 1
    assert cache.get("monster:test:second") is None
