"""A renderer that is down, slow or answers garbage: 503/504, nothing cached or recorded.

The client's own connections too: kept alive between fetches, and dropped, never
reused, when a fetch leaves one broken or half read.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import caches

from monsters.guards import sources
from monsters.images import identity, keys, service
from monsters.models import Generation
from renderer import render

pytestmark = pytest.mark.django_db

MOBY = identity.hash_name("Moby Dock")
URL = f"/monster/{MOBY}"


def _nothing_cached_or_recorded() -> bool:
    key = keys.locate(name_hash=MOBY, size=80).key
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
        service.get_picture(keys.locate(name_hash=MOBY, size=80))


def test_read_timeouts_are_not_retried(client, bad_renderer):
    bad_renderer.mode = "hang"
    client.get(URL)
    assert bad_renderer.hits == 1


def test_renderer_recovering_serves_the_monster(client, refusing_renderer, renderer_server):
    # renderer_server re-points DNMONSTER_URL at a working renderer after a failure.
    response = client.get(URL)
    assert response.status_code == HTTPStatus.OK
    assert response["X-Cache"] == "MISS"


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"])
def test_proxy_variables_do_not_divert_the_renderer_request(
    client, renderer_server, monkeypatch, unused_port, variable
):
    # A proxy where nothing listens: a client that used it would fail.
    monkeypatch.setenv(variable, f"http://127.0.0.1:{unused_port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    response = client.get(URL)
    assert response.status_code == HTTPStatus.OK
    assert renderer_server.count == 1


# --- The client's connections, against a renderer that keeps them alive --------------

PAUSE_BEFORE_RESET_SECONDS = 0.3  # time for the client to be reading the body


class _KeepAliveHandler(BaseHTTPRequestHandler):
    """HTTP/1.1: answers a monster, or misbehaves as the server's `mode` says, and
    keeps the connection open between answers when it answered whole."""

    protocol_version = "HTTP/1.1"
    server: KeepAliveRenderer

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_GET(self) -> None:  # noqa: N802
        with self.server.lock:
            self.server.hits += 1
        mode = self.server.mode
        parts = urlsplit(self.path)
        png = render(parts.path.rsplit("/", 1)[-1], int(parse_qs(parts.query)["size"][0]))
        if mode == "ok":
            self._send(200, "image/png", png)
        elif mode == "error":
            self._send(500, "text/plain", b"internal error\n")
        elif mode == "huge":  # declared too long: never read
            self._send(200, "image/png", png + b"\0" * (5 * 1024 * 1024))
        elif mode == "redirect":
            self.send_response(302)
            self.send_header("Location", f"{self.path}&followed=1")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif mode == "reset-mid-body":
            self._send_half(png)
            self.server.released.wait(PAUSE_BEFORE_RESET_SECONDS)
            # A zero linger time makes close() send a reset, not an orderly end.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        elif mode == "stall-mid-body":
            self._send_half(png)
            self.server.released.wait(self.server.hang_seconds)
            with contextlib.suppress(OSError):
                self.wfile.write(png[len(png) // 2 :])
        else:
            raise AssertionError(f"unknown mode {mode}")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the client may have given up, rightly
            self.wfile.write(body)

    def _send_half(self, png: bytes) -> None:
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(png)))
        self.end_headers()
        self.wfile.write(png[: len(png) // 2])

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class KeepAliveRenderer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _KeepAliveHandler)
        self.mode = "ok"
        self.connections = 0  # connections accepted
        self.hits = 0  # requests received
        self.lock = threading.Lock()
        self.hang_seconds = 3.0
        self.released = threading.Event()  # ends every wait at once
        self.url = f"http://127.0.0.1:{self.server_port}"


@pytest.fixture
def keep_alive_renderer() -> Iterator[KeepAliveRenderer]:
    server = KeepAliveRenderer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.released.set()
    server.shutdown()
    server.server_close()


def _source(url: str, *, connect_timeout: float = 1.0) -> sources.DnmonsterSource:
    return sources.DnmonsterSource(
        base_url=url, connect_timeout=connect_timeout, read_timeout=0.5, revision="test"
    )


def test_fetches_share_one_kept_alive_connection(keep_alive_renderer):
    source = _source(keep_alive_renderer.url)
    monsters = [source.fetch(MOBY, 80) for _ in range(5)]
    assert monsters == [render(MOBY, 80)] * 5
    assert keep_alive_renderer.hits == 5
    assert keep_alive_renderer.connections == 1


@pytest.mark.parametrize(
    ("mode", "error", "message"),
    [
        ("reset-mid-body", sources.SourceUnavailable, r"^renderer broke off \(ProtocolError\)$"),
        ("stall-mid-body", sources.SourceTimeout, r"^renderer stopped sending the image$"),
        ("error", sources.SourceUnavailable, r"^renderer answered status 500$"),
        ("huge", sources.InvalidImage, r"more than"),
    ],
)
def test_a_failed_fetch_drops_its_connection_and_the_next_fetch_works(
    keep_alive_renderer, mode, error, message
):
    source = _source(keep_alive_renderer.url)
    source.fetch(MOBY, 80)
    keep_alive_renderer.mode = mode
    with pytest.raises(error, match=message):
        source.fetch(MOBY, 80)
    keep_alive_renderer.mode = "ok"
    # A connection left broken or half read is never reused: the next fetches get a
    # new one, and keep it.
    assert [source.fetch(MOBY, 80) for _ in range(2)] == [render(MOBY, 80)] * 2
    assert keep_alive_renderer.connections == 2


def test_a_redirect_is_an_error_status_and_is_not_followed(keep_alive_renderer):
    keep_alive_renderer.mode = "redirect"
    with pytest.raises(sources.SourceUnavailable, match=r"^renderer answered status 302$"):
        _source(keep_alive_renderer.url).fetch(MOBY, 80)
    assert keep_alive_renderer.hits == 1


@pytest.fixture
def unaccepting_port() -> Iterator[int]:
    """A port whose listener has a full accept queue: new connections get no answer at
    all (the kernel drops them), as from a host that is gone."""
    with socket.socket() as listener, contextlib.ExitStack() as stack:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(3):  # more than the queue holds
            filler = stack.enter_context(socket.socket())
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
        yield port


def test_a_renderer_not_accepting_connections_is_a_timeout_after_the_retries(unaccepting_port):
    source = _source(f"http://127.0.0.1:{unaccepting_port}", connect_timeout=0.2)
    with pytest.raises(sources.SourceTimeout, match=r"\(ConnectTimeoutError\)$"):
        source.fetch(MOBY, 80)


def test_a_refused_connection_is_unavailable_with_the_cause_named(refusing_renderer):
    with pytest.raises(sources.SourceUnavailable, match=r"^renderer unreachable \(\w+Error\)$"):
        _source(refusing_renderer).fetch(MOBY, 80)
