"""A miss's admission: the client's rate-limit token and the image's single-flight lock
in one Redis round trip (monsters/guards/admission.py), against the real Redis."""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Iterator
from http import HTTPStatus

import pytest
import redis
from django.conf import settings as django_settings
from django.core.cache import caches
from django_redis import get_redis_connection

from monsters.audit import writer
from monsters.guards import admission, rate_limit, single_flight
from monsters.images import identity
from monsters.models import Generation
from tests.cache_points import point_cache_at
from tests.ports import free_port

pytestmark = pytest.mark.django_db

LIMIT = rate_limit.Limit("admission-test", per_minute=1, burst=2)


def prefixed(key: str) -> str:
    return str(caches["monsters"].make_key(key))


@contextlib.contextmanager
def commands_with_our_keys() -> Iterator[list[tuple[str, ...]]]:
    """Every command Redis runs meanwhile that names a key of this run's cache (MONITOR
    on a connection of our own), in order."""
    prefix = prefixed("")
    end_marker = prefixed(f"monitor-end-{secrets.token_hex(8)}")
    client = redis.Redis.from_url(django_settings.CACHES["monsters"]["LOCATION"])
    seen: list[tuple[str, ...]] = []
    started = threading.Event()

    def watch() -> None:
        with client.monitor() as monitor:
            started.set()
            while True:
                info = monitor.next_command()
                command = info["command"]
                if end_marker in command:
                    return
                # (A script's own commands show too, as the client "lua": not round trips.)
                if prefix in command and info.get("client_type") != "lua":
                    seen.append(tuple(command.split()))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert started.wait(5)
    client.ping()  # MONITOR is on once Redis has answered it: a command after it is seen
    commands: list[tuple[str, ...]] = []
    try:
        yield commands
    finally:
        client.get(end_marker)
        watcher.join(5)
        commands.extend(seen)


def test_a_miss_asks_redis_three_times(client, renderer_server, settings):
    # The row is written behind the answer: kept out of the window, written after it.
    settings.AUDIT_WRITE_BEHIND_MS = 60_000
    url = f"/monster/{identity.hash_name('admission test')}"
    with commands_with_our_keys() as commands:
        response = client.get(url)
    writer.writer().flush()
    assert response.status_code == HTTPStatus.OK
    assert response["X-Cache"] == "MISS"
    # The cache read; the token and the lock in one script; the image with its row's
    # intent in another. The lock stays for late comers: nothing frees it.
    names = [command[0].upper() for command in commands]
    assert len(names) == 3, commands
    assert names[0] == "GET"
    assert {names[1], names[2]} <= {"EVAL", "EVALSHA"}
    assert Generation.objects.count() == 1


def test_the_first_client_leads_and_the_next_waits():
    lock = f"lock:admission-{secrets.token_hex(8)}"
    first = admission.admit(LIMIT, "192.0.2.1", lock=lock, seconds=5)
    second = admission.admit(LIMIT, "192.0.2.2", lock=lock, seconds=5)
    assert first.decision.allowed and second.decision.allowed
    assert first.claim is not None and first.claim.leader
    assert second.claim is not None and not second.claim.leader
    connection = get_redis_connection("monsters")
    assert connection.get(prefixed(lock)) == first.claim.token.encode()
    assert 0 < connection.pttl(prefixed(lock)) <= 5000


def test_a_refused_client_takes_no_lock():
    client = f"192.0.2.{secrets.randbelow(200)}"
    locks = [f"lock:admission-{secrets.token_hex(8)}" for _ in range(3)]
    admitted = [admission.admit(LIMIT, client, lock=lock, seconds=5) for lock in locks]
    assert [a.decision.allowed for a in admitted] == [True, True, False]
    refused = admitted[-1]
    assert refused.claim is None
    assert refused.decision.retry_after > 0
    assert get_redis_connection("monsters").exists(prefixed(locks[-1])) == 0


def test_a_refused_miss_costs_no_render_and_leaves_no_lock(client, renderer_server, settings):
    settings.RATE_LIMIT_MISS_BURST = 1
    settings.RATE_LIMIT_MISSES_PER_MINUTE = 1
    hashes = [identity.hash_name(f"refused {n}") for n in range(2)]
    statuses = [client.get(f"/monster/{name_hash}").status_code for name_hash in hashes]
    assert statuses == [HTTPStatus.OK, HTTPStatus.TOO_MANY_REQUESTS]
    assert renderer_server.count == 1
    lock_keys = get_redis_connection("monsters").keys(prefixed(f"lock:*{hashes[1]}*"))
    assert lock_keys == []


def test_a_claimed_lead_that_fails_frees_its_lock():
    lock = f"lock:admission-{secrets.token_hex(8)}"
    claim = admission.admit(LIMIT, "192.0.2.9", lock=lock, seconds=5).claim
    assert claim is not None and claim.leader
    with (
        pytest.raises(RuntimeError),
        single_flight.leadership(lock, seconds=5, claim=claim) as flight,
    ):
        assert flight.leader
        raise RuntimeError("the render failed")
    assert get_redis_connection("monsters").exists(prefixed(lock)) == 0
    # The next miss of that image leads at once instead of waiting out the lock.
    again = admission.admit(LIMIT, "192.0.2.10", lock=lock, seconds=5).claim
    assert again is not None and again.leader


def test_with_redis_unreachable_every_client_is_admitted_and_leads(settings):
    point_cache_at(settings, f"redis://127.0.0.1:{free_port()}/0")
    admitted = admission.admit(LIMIT, "192.0.2.1", lock="lock:anything", seconds=5)
    assert admitted.decision.allowed
    assert admitted.claim == single_flight.Claim(leader=True, token=None)


def test_without_redis_the_bucket_is_this_process_and_the_lock_is_left_to_leadership(settings):
    settings.CACHES = {
        **django_settings.CACHES,
        "monsters": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    client = f"local-{secrets.token_hex(4)}"
    admitted = [admission.admit(LIMIT, client, lock="lock:local", seconds=5) for _ in range(3)]
    assert [a.decision.allowed for a in admitted] == [True, True, False]
    assert all(a.claim is None for a in admitted)


def test_a_redis_that_forgot_the_scripts_is_sent_them_again(client, renderer_server):
    """The scripts run by their SHA1; a restarted or newly promoted Redis knows none."""
    assert client.get(f"/monster/{identity.hash_name('scripts 1')}").status_code == 200
    get_redis_connection("monsters").script_flush()
    again = client.get(f"/monster/{identity.hash_name('scripts 2')}")
    assert again.status_code == HTTPStatus.OK and again["X-Cache"] == "MISS"
    assert Generation.objects.count() == 2
