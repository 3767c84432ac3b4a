"""/healthz and /readyz: liveness touches nothing; readiness checks each component for real."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from monsters.metrics import exposition
from monsters.models import Generation
from tests import per_run
from tests.cache_points import point_cache_at
from tests.ports import free_port

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


# Far longer than any timeout under test, however slow the machine.
SILENT_SECONDS = 20


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and then never says a word (a hung server).

    After SILENT_SECONDS it hangs up (connection reset): a client without a timeout of
    its own then fails with a connection error, rather than hanging the suite.
    """
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        hang_up = threading.Timer(SILENT_SECONDS, server.close)
        hang_up.start()
        try:
            yield server.getsockname()[1]
        finally:
            hang_up.cancel()


def _components(response) -> dict[str, dict]:
    return response.json()["components"]


@pytest.fixture
def details(admin_client):
    """The components as staff see them: /readyz?details, signed in."""

    def get():
        return admin_client.get("/readyz?details")

    return get


# --- /healthz ----------------------------------------------------------------------


def test_healthz_answers_ok_as_plain_text(client):
    response = client.get("/healthz")
    assert response.status_code == HTTPStatus.OK
    assert response.content == b"ok\n"
    assert response["Content-Type"] == "text/plain; charset=utf-8"


def test_healthz_touches_neither_database_nor_cache_nor_renderer(
    client, settings, refusing_renderer, django_assert_num_queries
):
    point_cache_at(settings, f"redis://127.0.0.1:{free_port()}/0")
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == HTTPStatus.OK


# --- /readyz: everything up ---------------------------------------------------------


def test_readyz_tells_the_world_ready_and_nothing_else(client, renderer_server):
    response = client.get("/readyz")
    assert response.status_code == HTTPStatus.OK
    assert response.content == b"ready\n"
    assert response["Content-Type"] == "text/plain; charset=utf-8"


def test_readyz_details_are_for_staff_only(client, renderer_server):
    # Anonymous: ?details is ignored, not refused (a refusal would say there is more).
    assert client.get("/readyz?details").content == b"ready\n"


def test_readyz_details_are_not_for_signed_in_users_who_are_not_staff(client, renderer_server):
    client.force_login(User.objects.create_user("visitor"))
    assert client.get("/readyz?details").content == b"ready\n"


def test_readyz_shows_staff_each_component(details, renderer_server):
    response = details()
    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["status"] == "ready"
    assert {name: (c["status"], c["backend"]) for name, c in body["components"].items()} == {
        "database": ("up", "postgresql"),
        "cache": ("up", "redis"),
        "renderer": ("up", "dnmonster"),
    }


def test_readyz_reports_how_long_each_check_took(details, renderer_server):
    started = time.perf_counter()
    response = details()
    request_ms = (time.perf_counter() - started) * 1000
    components = _components(response).values()
    assert all(isinstance(component["ms"], float) for component in components)
    assert all(component["ms"] >= 0 for component in components)
    # The checks run one after the other, inside the request.
    assert sum(component["ms"] for component in components) <= request_ms


def test_readyz_puts_each_component_on_the_metrics_port(client, renderer_server):
    client.get("/readyz")
    scrape = exposition().decode()
    for component, backend in (
        ("database", "postgresql"),
        ("cache", "redis"),
        ("renderer", "dnmonster"),
    ):
        assert f'identidock_readiness_up{{backend="{backend}",component="{component}"}} 1.0' in (
            scrape
        )
        assert f'identidock_readiness_check_seconds{{component="{component}"}}' in scrape


def test_readyz_asks_the_renderer_for_one_tiny_monster(client, renderer_server):
    client.get("/readyz")
    assert renderer_server.requests == ["/monster/readyz?size=8"]


def test_readyz_writes_nothing(client, renderer_server):
    client.get("/readyz")
    assert not Generation.objects.exists()
    assert per_run.cached_keys() == []


def test_readyz_is_never_cached(client, renderer_server):
    assert "no-store" in client.get("/readyz")["Cache-Control"]


def test_readyz_reports_the_builtin_renderer_as_up_when_no_url_is_set(details, settings):
    settings.DNMONSTER_URL = ""
    response = details()
    assert response.status_code == HTTPStatus.OK
    renderer = _components(response)["renderer"]
    assert (renderer["status"], renderer["backend"]) == ("up", "builtin")


def test_readyz_reports_a_local_memory_cache_as_up(details, settings, renderer_server):
    settings.CACHES = {
        **settings.CACHES,
        "monsters": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    response = details()
    assert response.status_code == HTTPStatus.OK
    cache = _components(response)["cache"]
    assert (cache["status"], cache["backend"]) == ("up", "local-memory")


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_probes_accept_only_get_and_head(client, method):
    for path in ("/healthz", "/readyz"):
        assert getattr(client, method)(path).status_code == HTTPStatus.METHOD_NOT_ALLOWED


# --- /readyz: one component down ----------------------------------------------------


def test_readyz_tells_the_world_not_ready_and_nothing_else(client, refusing_renderer):
    response = client.get("/readyz")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.content == b"not ready\n"


def test_a_component_down_is_0_on_the_metrics_port(client, refusing_renderer):
    client.get("/readyz")
    assert 'identidock_readiness_up{backend="dnmonster",component="renderer"} 0.0' in (
        exposition().decode()
    )


def test_readyz_is_503_when_the_renderer_refuses_connections(details, refusing_renderer):
    response = details()
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    components = _components(response)
    assert response.json()["status"] == "not ready"
    assert components["renderer"]["status"] == "down"
    assert components["renderer"]["error"] == "SourceUnavailable"
    assert components["database"]["status"] == components["cache"]["status"] == "up"


@pytest.mark.parametrize(
    ("mode", "error"),
    [("error", "SourceUnavailable"), ("html", "InvalidImage"), ("not-png", "InvalidImage")],
)
def test_readyz_is_503_when_the_renderer_answers_garbage(details, bad_renderer, mode, error):
    bad_renderer.mode = mode
    response = details()
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert _components(response)["renderer"]["error"] == error


def test_readyz_gives_up_on_a_hanging_renderer_within_its_own_short_timeout(
    details, bad_renderer, settings
):
    bad_renderer.mode = "hang"
    settings.DNMONSTER_READ_TIMEOUT = 30.0  # a request may wait this long; a probe may not
    # It answers garbage after 10 s: a probe that waited that long would see InvalidImage.
    bad_renderer.hang_seconds = 10.0
    response = details()
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert _components(response)["renderer"]["error"] == "SourceTimeout"


def test_readyz_is_503_when_redis_refuses_connections(details, settings, renderer_server):
    point_cache_at(settings, f"redis://127.0.0.1:{free_port()}/0")
    response = details()
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    cache = _components(response)["cache"]
    assert (cache["status"], cache["backend"]) == ("down", "redis")
    assert cache["error"] == "ConnectionError"
    assert _components(response)["renderer"]["status"] == "up"


def test_readyz_gives_up_on_a_silent_redis_within_its_socket_timeout(
    details, settings, renderer_server, silent_port
):
    point_cache_at(settings, f"redis://127.0.0.1:{silent_port}/0")
    response = details()
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    # Not the ConnectionError of the silent server hanging up: readyz gave up first.
    assert _components(response)["cache"]["error"] == "TimeoutError"


# The database a request uses is fixed when Django starts, so a broken one is tested in a
# process of its own, started with a DATABASE_URL that leads nowhere.
_READYZ_IN_A_PROCESS = """
import django
django.setup()
import json
from django.test import Client
from monsters.web import health
response = Client().get("/readyz")
print(response.status_code)
print(json.dumps({"public": response.content.decode(), **health.details(health.current_verdict())}))
"""


def _readyz_in_a_process(database_url: str) -> tuple[int, dict]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DNMONSTER_URL", "DJANGO_SETTINGS_MODULE"}
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="identidock.settings",
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="testserver",
        DATABASE_URL=database_url,
        REDIS_URL=os.environ["REDIS_URL"],
    )
    result = subprocess.run(
        [sys.executable, "-c", _READYZ_IN_A_PROCESS],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    status, body = result.stdout.strip().split("\n", 1)
    return int(status), json.loads(body)


def test_readyz_is_503_when_postgres_refuses_connections():
    status, body = _readyz_in_a_process(f"postgres://postgres@127.0.0.1:{free_port()}/nowhere")
    assert status == HTTPStatus.SERVICE_UNAVAILABLE
    assert body["public"] == "not ready\n"
    database = body["components"]["database"]
    assert (database["status"], database["backend"]) == ("down", "postgresql")
    assert database["error"] == "OperationalError"
    assert body["components"]["cache"]["status"] == body["components"]["renderer"]["status"] == "up"


def test_readyz_gives_up_on_a_silent_postgres_within_its_connect_timeout(silent_port):
    status, body = _readyz_in_a_process(f"postgres://postgres@127.0.0.1:{silent_port}/nowhere")
    assert status == HTTPStatus.SERVICE_UNAVAILABLE
    database = body["components"]["database"]
    assert database["error"] == "OperationalError"
    # It waited for libpq's connect timeout (2 s at least), and gave up long before the
    # silent server hung up.
    assert 1900 <= database["ms"] < SILENT_SECONDS * 1000


def test_readyz_is_503_when_the_database_does_not_exist():
    server = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    status, body = _readyz_in_a_process(f"{server}/identidock_no_such_database")
    assert status == HTTPStatus.SERVICE_UNAVAILABLE
    assert body["components"]["database"]["status"] == "down"
