"""Shared fixtures: real PostgreSQL and Redis, real HTTP renderers on free ports."""

from __future__ import annotations

import contextlib
import functools
import os
import runpy
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from monsters.guards.sources import OUR_ART_REVISION
from renderer import render
from renderer.wsgi import app as renderer_app
from tests import per_run
from tests.audit_rows import settle_audit
from tests.form_client import FormClient
from tests.ports import free_port

ROOT = Path(__file__).resolve().parent.parent

HOW_TO_START = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": (
        'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no'
    ),
}


def _address(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def _reachable(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=2):
            return True
    except OSError:
        return False


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Stop at once, with the fix in one sentence, when a real service is missing.

    Then, in the run's first process (not in an xdist worker), lock this run's token
    and sweep away what runs that were killed left behind (tests/per_run.py).
    """
    needed = {
        "PostgreSQL": (os.environ["DATABASE_URL"], 5432, "DATABASE_URL"),
        "Redis": (os.environ["REDIS_URL"], 6379, "TEST_REDIS_URL"),
    }
    for service, (url, port, variable) in needed.items():
        host, port = _address(url, port)
        if not _reachable((host, port)):
            pytest.exit(
                f"{service} is not reachable at {host}:{port}: start it "
                f"(`{HOW_TO_START[service]}`) or point {variable} at a running one.",
                returncode=3,
            )
    if "PYTEST_XDIST_WORKER" not in os.environ:
        per_run.hold_run_lock()
        per_run.sweep_abandoned_runs()


def pytest_sessionfinish(session: pytest.Session) -> None:
    per_run.release_run_lock()


@pytest.fixture
def client() -> FormClient:
    """pytest-django's client, posting forms as browsers do (urlencoded)."""
    return FormClient()


@pytest.fixture
def admin_client(admin_user) -> FormClient:
    """pytest-django's admin client, posting forms as browsers do (urlencoded)."""
    client = FormClient()
    client.force_login(admin_user)
    return client


@pytest.fixture(autouse=True)
def empty_monster_cache() -> Iterator[None]:
    """Each test starts with none of this run's monsters cached; other runs' are kept."""
    per_run.empty_monster_cache()
    yield
    per_run.empty_monster_cache()


# What identidock/settings_test.py turns off for the suite, which production runs with.
OFF_IN_THE_SUITE = ("MONSTER_PROCESS_CACHE_MB", "AUDIT_WRITE_BEHIND_MS")


@functools.cache
def production_defaults() -> dict[str, int]:
    """OFF_IN_THE_SUITE as identidock/settings.py sets them when the environment does not."""
    with pytest.MonkeyPatch.context() as patch:
        for name in OFF_IN_THE_SUITE:
            patch.delenv(name, raising=False)
        made = runpy.run_path(str(ROOT / "identidock" / "settings.py"))
    return {name: made[name] for name in OFF_IN_THE_SUITE}


@pytest.fixture(
    params=[
        pytest.param("suite", id="suite-defaults"),
        # The writer thread commits its rows on a connection of its own: in a transaction
        # of the test's, they would outlive it.
        pytest.param(
            "production", id="production-defaults", marks=pytest.mark.django_db(transaction=True)
        ),
    ]
)
def suite_and_production_defaults(request, settings) -> Iterator[str]:
    """Runs a test twice: with the suite's settings, and with the in-process tier and
    the audit write-behind at their production defaults (`production_defaults()`).
    A test that reads the audit log after a request calls `settle_audit()` first."""
    if request.param == "production":
        for name, value in production_defaults().items():
            setattr(settings, name, value)
    yield request.param
    settle_audit()  # nothing of this test's is written into the next one


@pytest.fixture
def unused_port() -> int:
    """A TCP port on 127.0.0.1 where nothing listens."""
    return free_port()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    # socketserver's default backlog is 5: 32 warming threads connecting at once on a
    # busy machine overflow it, and the dropped connections time out.
    request_queue_size = 128


class RendererServer:
    """Our renderer's own WSGI app on a real socket, counting the requests it gets."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self.httpd = make_server(
            "127.0.0.1", 0, self._counting_app, _ThreadingWSGIServer, _QuietHandler
        )
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def _counting_app(self, environ, start_response):
        with self._lock:
            self.requests.append(environ["PATH_INFO"] + "?" + environ.get("QUERY_STRING", ""))
        return renderer_app(environ, start_response)

    @property
    def count(self) -> int:
        return len(self.requests)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def _renderer_process_server() -> Iterator[RendererServer]:
    server = RendererServer()
    yield server
    server.stop()


@pytest.fixture
def renderer_server(_renderer_process_server: RendererServer, settings) -> RendererServer:
    """The real renderer over HTTP, wired in as DNMONSTER_URL, its counter at zero, and
    named as compose names it (DNMONSTER_REVISION `identidock-r<RENDERER_VERSION>`): it
    draws our own art, so SVG is drawn in-process for it."""
    _renderer_process_server.requests.clear()
    settings.DNMONSTER_URL = _renderer_process_server.url
    settings.DNMONSTER_REVISION = OUR_ART_REVISION
    return _renderer_process_server


class _MisbehavingHandler(BaseHTTPRequestHandler):
    """Answers every request the way the server's `mode` says."""

    server: MisbehavingServer

    def do_GET(self) -> None:  # noqa: N802
        mode = self.server.mode
        self.server.hits += 1
        if mode == "hang":  # garbage, after hang_seconds
            self.server.released.wait(self.server.hang_seconds)
            self._send(200, "image/png", b"\x89PNG\r\n\x1a\n")
        elif mode == "slow":  # a real monster, after hang_seconds
            self.server.released.wait(self.server.hang_seconds)
            parts = urlsplit(self.path)
            identifier = parts.path.rsplit("/", 1)[-1]
            size = int(parse_qs(parts.query).get("size", ["80"])[0])
            self._send(200, "image/png", render(identifier, size))
        elif mode == "error":
            self._send(500, "text/plain", b"internal error\n")
        elif mode == "html":
            self._send(200, "text/html; charset=utf-8", b"<html><body>Oops</body></html>")
        elif mode == "not-png":
            self._send(200, "image/png", b"GIF89a not really a png")
        elif mode == "broken-png":
            self._send(200, "image/png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
        elif mode == "huge":
            self._send(200, "image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * 1024 * 1024))
        elif mode == "huge-undeclared":
            self.server.answered += 1
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * 1024 * 1024))
        else:
            raise AssertionError(f"unknown mode {mode}")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.server.answered += 1
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # The client may have given up, as it should for a hanging renderer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class MisbehavingServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # as _ThreadingWSGIServer's

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _MisbehavingHandler)
        self.mode = "error"
        self.hits = 0  # requests received
        self.answered = 0  # answers begun
        self.hang_seconds = 3.0
        self.released = threading.Event()  # ends every hang at once
        self.url = f"http://127.0.0.1:{self.server_port}"


@pytest.fixture
def bad_renderer(settings) -> Iterator[MisbehavingServer]:
    """A renderer that misbehaves on purpose; set `.mode` in the test."""
    server = MisbehavingServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.DNMONSTER_URL = server.url
    settings.DNMONSTER_READ_TIMEOUT = 0.5
    yield server
    server.released.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def refusing_renderer(settings) -> str:
    """A renderer URL where nothing listens: every connection is refused."""
    url = f"http://127.0.0.1:{free_port()}"
    settings.DNMONSTER_URL = url
    return url
