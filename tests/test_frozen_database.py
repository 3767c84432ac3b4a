"""A frozen PostgreSQL (a relay that stops relaying both ways and keeps its sockets
open: the client's kernel sees every byte acknowledged) hangs no request: misses, hits
and /healthz answer within their bounds, ten freezes in a row, with Redis up and with
Redis down too; and once it thaws, every image served has exactly one audit row."""

from __future__ import annotations

import os
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from pathlib import Path

import pytest
import requests
from django.db import connection

from monsters.audit import record as audit
from monsters.images import identity
from monsters.models import Generation
from tests import per_run
from tests.freezable_relay import FreezableRelay
from tests.gunicorn_server import gunicorn
from tests.ports import free_port
from tests.waiting import eventually

pytestmark = pytest.mark.django_db(transaction=True)

RUNS = 10
WRITE_TIMEOUT_MS = 500
# What a request may take while the database is frozen: its write timeout, a Redis
# call or two, and the slack a busy 2-core machine needs. Without the bound, the
# requests hang until the client gives up (CLIENT_TIMEOUT).
BOUND_SECONDS = 4.0
CLIENT_TIMEOUT = 20.0
MISSES, HITS, PROBES = 6, 6, 3
_LOGGED = re.compile(r"Audit row not written, keep it: (\{.*\})")


@pytest.fixture
def relay() -> Iterator[FreezableRelay]:
    with FreezableRelay(int(connection.settings_dict["PORT"] or 5432)) as relay:
        yield relay


def _environment(relay: FreezableRelay, *, redis_url: str, write_behind_ms: int) -> dict[str, str]:
    database = connection.settings_dict
    return {
        "SECRET_KEY": "frozen-database-test-only",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"postgres://{database['USER']}@127.0.0.1:{relay.port}/{database['NAME']}",
        "REDIS_URL": redis_url,
        "CACHE_KEY_PREFIX": per_run.cache_key_prefix(),
        "AUDIT_WRITE_BEHIND_MS": str(write_behind_ms),
        "AUDIT_WRITE_TIMEOUT_MS": str(WRITE_TIMEOUT_MS),
        "DATABASE_CLIENT_TIMEOUT_MS": "1000",
        "BREAKER_COOL_DOWN": "1",
        "READINESS_TTL": "0",
        "RATE_LIMIT_MISS_BURST": "1000",
        "RATE_LIMIT_MISSES_PER_MINUTE": "6000",
        "GUNICORN_ACCESS_LOG": "off",
        "METRICS_PORT": "0",
    }


def _get(url: str) -> tuple[str, int, str, float]:
    started = time.monotonic()
    answer = requests.get(url, timeout=CLIENT_TIMEOUT)
    return url, answer.status_code, answer.headers.get("X-Cache", ""), time.monotonic() - started


def _burst(address: str, cached: str) -> list[tuple[str, int, str, float]]:
    """Misses (new monsters), hits (a cached one) and liveness probes, all at once."""
    misses = [identity.hash_name(f"frozen {secrets.token_hex(6)}") for _ in range(MISSES)]
    urls = [f"http://{address}/monster/{name_hash}" for name_hash in misses]
    urls += [f"http://{address}/monster/{cached}"] * HITS + [f"http://{address}/healthz"] * PROBES
    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(_get, urls))


def _hash_of(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def _served(answers: list[tuple[str, int, str, float]]) -> Counter[str]:
    """Images generated and served (MISS, or BYPASS: drawn anew each time), by hash."""
    return Counter(
        _hash_of(url) for url, status, cache, _ in answers if cache in {"MISS", "BYPASS"}
    )


def _rows(hashes: set[str]) -> Counter[str]:
    return Counter(
        Generation.objects.filter(name_hash__in=hashes).values_list("name_hash", flat=True)
    )


def _check_bounded(answers: list[tuple[str, int, str, float]]) -> None:
    slow = [(url, round(seconds, 2)) for url, _, _, seconds in answers if seconds > BOUND_SECONDS]
    assert not slow, f"answered after more than {BOUND_SECONDS} s: {slow}"
    assert {status for _, status, _, _ in answers} == {HTTPStatus.OK}


def _warm(address: str) -> str:
    cached = identity.hash_name(f"frozen cached {secrets.token_hex(6)}")
    assert _get(f"http://{address}/monster/{cached}")[1] == HTTPStatus.OK
    return cached


def _ready(address: str) -> bool:
    try:
        return requests.get(f"http://{address}/healthz", timeout=2).ok
    except requests.ConnectionError:
        return False


@pytest.mark.parametrize("write_behind_ms", [100, 0], ids=["write-behind", "written-in-request"])
def test_a_frozen_database_hangs_no_request_and_loses_or_doubles_no_row(relay, write_behind_ms):
    audit.flush_queue(orphans_after=0)
    environment = _environment(
        relay, redis_url=os.environ["REDIS_URL"], write_behind_ms=write_behind_ms
    )
    with gunicorn(environment, ready=_ready) as address:
        cached = _warm(address)
        served: Counter[str] = Counter()
        for _ in range(RUNS):
            relay.freeze()
            try:
                answers = _burst(address, cached)
            finally:
                relay.thaw()
            _check_bounded(answers)
            served += _served(answers)
        time.sleep(WRITE_TIMEOUT_MS / 1000 + 0.5)  # the writer's last batch: written or queued
        # What was queued while frozen, and the intents of rows still held, written now.
        audit.flush_queue(orphans_after=0)
    assert sum(served.values()) == RUNS * MISSES
    assert _rows(set(served)) == served


def test_with_redis_down_and_the_database_frozen_no_request_hangs_and_rows_equal_images(
    relay, tmp_path: Path
):
    """Nothing can queue a row then: each waits in the process's memory, and its flusher
    writes it once the database thaws. A row whose INSERT was under way may land too:
    by its event id, it is still one row."""
    log = tmp_path / "gunicorn.log"
    environment = _environment(
        relay, redis_url=f"redis://127.0.0.1:{free_port()}/0", write_behind_ms=100
    )
    with gunicorn(environment, ready=_ready, log=log) as address:
        served: Counter[str] = Counter()
        for _ in range(RUNS):
            relay.freeze()
            try:
                answers = _burst(address, identity.hash_name("frozen and no cache"))
            finally:
                relay.thaw()
            _check_bounded(answers)
            served += _served(answers)
        # Without Redis every new monster is drawn (BYPASS); the cached one comes from
        # the process's own tier once drawn.
        assert sum(served.values()) >= RUNS * MISSES
        assert eventually(lambda: _rows(set(served)) == served, 30), (_rows(set(served)), served)
    assert not _LOGGED.search(log.read_text()), "a row was only logged"


def test_with_the_database_frozen_admin_and_readiness_answer_in_time_and_hits_flow(relay):
    """A logged-out visitor's random session cookie makes /admin/ look the session up:
    that waits at most DATABASE_CLIENT_TIMEOUT_MS, then fails fast while the breaker is
    open; cached images keep coming meanwhile."""
    environment = _environment(relay, redis_url=os.environ["REDIS_URL"], write_behind_ms=100)
    with gunicorn(environment, ready=_ready) as address:
        cached = _warm(address)
        # Each thread's connection opened before the freeze, as a busy server's are.
        for _ in range(8):
            requests.get(f"http://{address}/readyz", timeout=CLIENT_TIMEOUT)
        relay.freeze()
        try:
            urls = [f"http://{address}/admin/"] * 8 + [f"http://{address}/readyz"] * 4
            urls += [f"http://{address}/monster/{cached}"] * 8

            def get(url: str) -> tuple[str, int, float]:
                started = time.monotonic()
                answer = requests.get(
                    url, cookies={"sessionid": secrets.token_hex(16)}, timeout=CLIENT_TIMEOUT
                )
                return url, answer.status_code, time.monotonic() - started

            with ThreadPoolExecutor(len(urls)) as pool:
                answers = list(pool.map(get, urls))
            # Probes that came while another checked had the verdict from before; this
            # one's own check finds the database out, in time.
            readiness = get(f"http://{address}/readyz")
        finally:
            relay.thaw()
    slow = [(url, round(seconds, 2)) for url, _, seconds in answers if seconds > BOUND_SECONDS]
    assert not slow, f"answered after more than {BOUND_SECONDS} s: {slow}"
    hits = {status for url, status, _ in answers if "/monster/" in url}
    assert hits == {HTTPStatus.OK}
    assert readiness[1] == HTTPStatus.SERVICE_UNAVAILABLE
    assert readiness[2] < BOUND_SECONDS


def test_a_frozen_database_fails_a_call_within_its_deadline_and_opens_the_breaker(relay, settings):
    """In this process: the wait callback's deadline, whatever the server does."""
    import psycopg2

    from monsters.guards import database

    settings.DATABASE_CLIENT_TIMEOUT_MS = 500
    settings.BREAKER_COOL_DOWN = 60
    own = connection.settings_dict
    raw = psycopg2.connect(host="127.0.0.1", port=relay.port, user=own["USER"], dbname=own["NAME"])
    breaker = database.database_breaker()
    try:
        relay.freeze()
        started = time.monotonic()
        with pytest.raises(database.DatabaseDeadline), raw.cursor() as cursor:
            cursor.execute("SELECT 1")
        assert time.monotonic() - started < BOUND_SECONDS
        assert raw.closed  # given up by psycopg2 itself, never reused
        assert breaker.refusing()
        with pytest.raises(database.DatabaseSkipped):  # no second wait while open
            psycopg2.connect(host="127.0.0.1", port=relay.port, user=own["USER"])
    finally:
        relay.thaw()
        breaker.succeeded()
