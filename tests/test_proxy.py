"""The proxy's configuration at work: Debian's nginx, with the template compose ships,
in front of a small HTTP server that records every request it gets.

What gunicorn would see: the client's address, scheme and a request id (never the
client's own claims), the Host with its port, whole requests only, over kept-alive
connections; and what it never sees: oversized bodies, and clients that do not finish
their header in time.
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from scripts.stack import compose, processes, proxy
from scripts.stack.ports import free_port

HEADER_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    peer_port: int  # the proxy's end of the connection it came over
    at: float  # time.monotonic() when the whole request had arrived


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as gunicorn

    def do_GET(self) -> None:  # noqa: N802
        self._record(b"")

    def do_POST(self) -> None:  # noqa: N802
        self._record(self.rfile.read(int(self.headers.get("Content-Length", "0"))))

    def _record(self, body: bytes) -> None:
        self.server.received.append(  # type: ignore[attr-defined]
            Received(
                self.command,
                self.path,
                dict(self.headers.items()),
                body,
                self.client_address[1],
                time.monotonic(),
            )
        )
        answer = b"ok\n"
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@dataclass
class Proxied:
    url: str
    port: int
    received: list[Received]


@pytest.fixture(scope="module")
def proxied(tmp_path_factory) -> Iterator[Proxied]:
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    upstream.daemon_threads = True
    upstream.received = []  # type: ignore[attr-defined]
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = free_port()
    prefix = Path(tempfile.mkdtemp(prefix="identidock-proxy-test-"))
    config = proxy.write_config(
        prefix, listen=f"127.0.0.1:{port}", upstream=f"127.0.0.1:{upstream.server_port}"
    )
    nginx = processes.start(
        "proxy",
        proxy.command(config),
        compose.image_environment(),
        log_dir=tmp_path_factory.mktemp("proxy-logs"),
        stop_signal=signal.SIGQUIT,
    )
    try:
        processes.wait_until_serving(nginx, f"http://127.0.0.1:{port}/healthz")
        yield Proxied(f"http://127.0.0.1:{port}", port, upstream.received)  # type: ignore[attr-defined]
    finally:
        nginx.stop()
        upstream.shutdown()
        upstream.server_close()
        shutil.rmtree(prefix)


@pytest.fixture
def proxy_to(proxied) -> Proxied:
    proxied.received.clear()
    return proxied


def _get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers=headers, timeout=10)


def test_client_address_and_scheme_replace_whatever_the_client_claimed(proxy_to):
    _get(
        proxy_to.url + "/who",
        **{"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9"},
        **{"X-Forwarded-Proto": "https"},
    )
    (request,) = proxy_to.received
    assert request.headers["X-Forwarded-For"] == "127.0.0.1"
    assert request.headers["X-Real-IP"] == "127.0.0.1"
    assert request.headers["X-Forwarded-Proto"] == "http"


CLIENT_FORWARDING_CLAIMS = {
    "X-Forwarded-Ssl": "on",
    "X-Forwarded-Protocol": "ssl",
    "X-Forwarded-Scheme": "https",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Port": "8443",
    "X-Forwarded-Prefix": "/evil",
    "Forwarded": "for=203.0.113.9;proto=https;host=evil.example",
    "X-Url-Scheme": "https",
}


def test_forwarding_headers_the_proxy_does_not_set_are_cleared(proxy_to):
    _get(proxy_to.url + "/claims", **CLIENT_FORWARDING_CLAIMS)
    (request,) = proxy_to.received
    received = {name.lower() for name in request.headers}
    assert received.isdisjoint(name.lower() for name in CLIENT_FORWARDING_CLAIMS)
    assert request.headers["X-Forwarded-Proto"] == "http"


def test_host_reaches_the_app_with_its_port(proxy_to):
    _get(proxy_to.url + "/host")
    (request,) = proxy_to.received
    assert request.headers["Host"] == f"127.0.0.1:{proxy_to.port}"


def test_every_request_gets_a_fresh_id_upstream_and_in_the_answer(proxy_to):
    answers = [_get(proxy_to.url + "/id", **{"X-Request-ID": "chosen-by-client"}) for _ in "ab"]
    upstream_ids = [request.headers["X-Request-ID"] for request in proxy_to.received]
    assert upstream_ids == [answer.headers["X-Request-ID"] for answer in answers]
    assert all(re.fullmatch(r"[0-9a-f]{32}", request_id) for request_id in upstream_ids)
    assert upstream_ids[0] != upstream_ids[1]


def test_connections_to_the_app_are_kept_alive_across_clients(proxy_to):
    for _ in range(20):  # a new client connection each time
        assert _get(proxy_to.url + "/again").status_code == HTTPStatus.OK
    ports = {request.peer_port for request in proxy_to.received}
    assert len(ports) <= 2  # at most one connection per nginx worker, reused
    assert all(request.headers.get("Connection", "") == "" for request in proxy_to.received)


def test_a_body_over_16k_is_refused_and_never_reaches_the_app(proxy_to):
    answer = requests.post(proxy_to.url + "/", data=b"n" * (16 * 1024 + 1), timeout=10)
    assert answer.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert proxy_to.received == []


def test_a_body_of_16k_gets_through_whole(proxy_to):
    body = b"name=" + b"n" * (16 * 1024 - 5)
    assert requests.post(proxy_to.url + "/", data=body, timeout=10).status_code == HTTPStatus.OK
    assert [request.body for request in proxy_to.received] == [body]


def test_the_app_sees_a_slowly_sent_body_only_once_it_is_complete(proxy_to):
    with socket.create_connection(("127.0.0.1", proxy_to.port), timeout=10) as sock:
        sock.sendall(
            b"POST /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\nname="
        )
        time.sleep(1.5)
        assert proxy_to.received == []  # half a body: the app has not been bothered
        completed = time.monotonic()
        sock.sendall(b"Moby\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    (request,) = proxy_to.received
    assert request.body == b"name=Moby\n"
    assert request.at >= completed


def test_a_client_that_never_finishes_its_header_is_cut_off_after_5_s(proxy_to):
    with socket.create_connection(("127.0.0.1", proxy_to.port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /never HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        closed = b"x"
        while closed and time.monotonic() - started < HEADER_TIMEOUT_SECONDS + 3:
            try:
                sock.sendall(b"X-Slow: still typing\r\n")
                sock.settimeout(1)
                closed = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
        waited = time.monotonic() - started
    assert HEADER_TIMEOUT_SECONDS - 0.5 <= waited <= HEADER_TIMEOUT_SECONDS + 2
    assert proxy_to.received == []


def test_a_client_that_connects_and_says_nothing_is_cut_off_after_5_s(proxy_to):
    with socket.create_connection(("127.0.0.1", proxy_to.port), timeout=10) as sock:
        started = time.monotonic()
        assert sock.recv(4096) == b""  # closed by the proxy, without a word
        waited = time.monotonic() - started
    assert HEADER_TIMEOUT_SECONDS - 0.5 <= waited <= HEADER_TIMEOUT_SECONDS + 2
