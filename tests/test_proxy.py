"""The proxy's configuration at work: Debian's nginx, with the template compose ships,
in front of a small HTTP server that records every request it gets.

What gunicorn would see: the client's address, scheme and a request id (never the
client's own claims), the Host with its port, whole requests only, over kept-alive
connections; and what it never sees: oversized bodies, and clients that do not finish
their header in time.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
import requests

from scripts.stack.ports import free_port
from tests.shipped_proxy import shipped_proxy

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
    try:
        with shipped_proxy(
            f"127.0.0.1:{upstream.server_port}", tmp_path_factory.mktemp("proxy-logs")
        ) as url:
            yield Proxied(url, urlsplit(url).port or 0, upstream.received)  # type: ignore[attr-defined]
    finally:
        upstream.shutdown()
        upstream.server_close()


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
        # A slow client on purpose: half a body, then a pause. Nothing may reach the app
        # meanwhile, and that has no event to wait for: 1.5 s is the chance it gets.
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


# --- nginx's own errors ----------------------------------------------------------------


def _raw(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in lines)
    return int(status_line.split()[1]), fields, body


def _assert_short_text_with_security_headers(fields: dict[str, str], body: bytes) -> None:
    from monsters.images.headers import django_headers

    assert fields["Content-Type"] == "text/plain; charset=utf-8"
    assert body.count(b"\n") == 1 and b"<" not in body
    assert fields["Cache-Control"] == "no-store"
    assert re.fullmatch(r"[0-9a-f]{32}", fields["X-Request-ID"])
    for name, value in django_headers(secure=False):  # the app's own, worked out by Django
        assert fields.get(name) == value, name


NGINX_ERRORS = {
    "no Host": (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", HTTPStatus.BAD_REQUEST),
    "invalid Host": (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", HTTPStatus.BAD_REQUEST),
    "unknown version": (b"GET / HTTP/9.9\r\n\r\n", HTTPStatus.HTTP_VERSION_NOT_SUPPORTED),
    "header too large": (
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n",
        HTTPStatus.BAD_REQUEST,
    ),
}


@pytest.mark.parametrize("request_bytes, status", NGINX_ERRORS.values(), ids=NGINX_ERRORS.keys())
def test_nginx_errors_are_one_line_of_text_with_the_apps_security_headers(
    proxy_to, request_bytes, status
):
    got, fields, body = _raw(proxy_to.port, request_bytes)
    assert got == status
    _assert_short_text_with_security_headers(fields, body)
    assert proxy_to.received == []


def test_an_oversized_body_or_line_is_one_line_of_text_with_the_security_headers(proxy_to):
    too_large = requests.post(proxy_to.url + "/", data=b"n" * 20_000, timeout=10)
    too_long = requests.get(proxy_to.url + "/" + "a" * 20_000, timeout=10)
    assert too_large.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert too_long.status_code == HTTPStatus.REQUEST_URI_TOO_LONG
    for answer in (too_large, too_long):
        _assert_short_text_with_security_headers(dict(answer.headers), answer.content)
    assert proxy_to.received == []


@pytest.fixture(scope="module")
def proxy_to_nothing(tmp_path_factory) -> Iterator[int]:
    """The proxy in front of a port nobody listens on: every request is nginx's 502."""
    with shipped_proxy(
        f"127.0.0.1:{free_port()}", tmp_path_factory.mktemp("proxy-logs"), ready_path=None
    ) as url:
        yield urlsplit(url).port or 0


def test_no_app_behind_the_proxy_is_a_one_line_502_with_the_security_headers(proxy_to_nothing):
    got, fields, body = _raw(
        proxy_to_nothing, b"GET /monster/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    )
    assert got == HTTPStatus.BAD_GATEWAY
    _assert_short_text_with_security_headers(fields, body)
    assert b"not answering" in body
