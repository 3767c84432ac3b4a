"""A renderer that stops answering takes no more than RENDERER_MAX_WAITING threads of a
web process: misses over the limit answer 503 at once, and cached images keep coming."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus

import pytest
import requests
from django.db import connection

from monsters.images import identity
from tests import per_run
from tests.conftest import MisbehavingServer
from tests.gunicorn_server import gunicorn

pytestmark = pytest.mark.django_db(transaction=True)

READ_TIMEOUT = 5.0  # what each waiting miss waits out
HIT_BOUND = 1.0  # a hit takes milliseconds; without the bulkhead it waits seconds


@pytest.fixture
def frozen_renderer() -> Iterator[MisbehavingServer]:
    server = MisbehavingServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.released.set()
    server.shutdown()
    server.server_close()


def _ready(address: str) -> bool:
    try:
        return requests.get(f"http://{address}/healthz", timeout=2).ok
    except requests.ConnectionError:
        return False


def test_misses_waiting_on_a_frozen_renderer_leave_hits_fast(frozen_renderer):
    database = connection.settings_dict
    environment = {
        "SECRET_KEY": "bulkhead-test-only",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}"
            f"/{database['NAME']}"
        ),
        "REDIS_URL": os.environ["REDIS_URL"],
        "CACHE_KEY_PREFIX": per_run.cache_key_prefix(),
        "DNMONSTER_URL": frozen_renderer.url,
        "DNMONSTER_READ_TIMEOUT": str(READ_TIMEOUT),
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "4",
        "RENDERER_MAX_WAITING": "3",
        "RATE_LIMIT_MISS_BURST": "1000",
        "GUNICORN_ACCESS_LOG": "off",
        "METRICS_PORT": "0",
    }
    with gunicorn(environment, ready=_ready) as address:
        frozen_renderer.mode, frozen_renderer.hang_seconds = "slow", 0.0  # answers at once
        cached = f"http://{address}/monster/{identity.hash_name('bulkhead cached')}"
        assert requests.get(cached, timeout=10).status_code == HTTPStatus.OK
        frozen_renderer.mode, frozen_renderer.hang_seconds = "slow", 60.0  # never in time
        misses = [
            f"http://{address}/monster/{identity.hash_name(f'bulkhead {n}')}" for n in range(10)
        ]

        def get(url: str) -> tuple[int, float, str]:
            started = time.monotonic()
            answer = requests.get(url, timeout=30)
            return (
                answer.status_code,
                time.monotonic() - started,
                answer.headers.get("Retry-After", ""),
            )

        with ThreadPoolExecutor(10) as pool:
            waiting = [pool.submit(get, url) for url in misses]
            time.sleep(1.5)  # the misses over the limit have had their 503 by now
            hit_status, hit_seconds, _ = get(cached)
            answers = [future.result() for future in waiting]
    assert hit_status == HTTPStatus.OK
    assert hit_seconds < HIT_BOUND
    turned_away = [answer for answer in answers if answer[0] == HTTPStatus.SERVICE_UNAVAILABLE]
    waited = [answer for answer in answers if answer[0] == HTTPStatus.GATEWAY_TIMEOUT]
    assert len(waited) <= 3  # the bulkhead's slots: each waited its read timeout
    assert len(turned_away) >= 7
    assert all(retry_after for _, _, retry_after in turned_away)
    assert min(seconds for _, seconds, _ in turned_away) < READ_TIMEOUT / 2
