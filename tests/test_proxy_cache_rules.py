"""The proxy's image cache by its own rules: Debian's nginx with the template compose
ships, in front of a scripted upstream that answers whatever a test tells it to, so the
proxy's rules are tested apart from what the app happens to send (a 429 marked `public`
is still never kept): what is kept and under which key, and how a 304, a HEAD, a copy
past its max-age and concurrent misses are answered. In front of the app itself:
tests/test_proxy_cache_stack.py.
"""

from __future__ import annotations

import http.client
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.proxy_requests import get, settled
from tests.shipped_proxy import shipped_proxy
from tests.waiting import eventually

IMAGE = b"\x89PNG pretend"
ETAG = '"pretend-etag"'
KEPT_A_YEAR = "public, max-age=31536000, immutable"


@dataclass
class Answer:
    status: int = HTTPStatus.OK
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = IMAGE


class _Scripted(BaseHTTPRequestHandler):
    """Answers each path as `server.answers` says (a kept-a-year image by default), a
    304 to a matching If-None-Match; counts and keeps every request it gets."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802
        server = self.server
        server.received.append((self.command, self.path, dict(self.headers.items())))  # type: ignore[attr-defined]
        answer = server.answers.get(self.path.partition("?")[0], Answer(headers={}))  # type: ignore[attr-defined]
        headers = {
            "Content-Type": "image/png",
            "Cache-Control": KEPT_A_YEAR,
            "ETag": ETAG,
            "X-Cache": "MISS",
            **answer.headers,
        }
        headers = {name: value for name, value in headers.items() if value}
        status, body = answer.status, answer.body
        if status == HTTPStatus.OK and self.headers.get("If-None-Match") == headers.get("ETag"):
            status, body = HTTPStatus.NOT_MODIFIED, b""
            headers.pop("X-Cache", None)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET  # noqa: N815  (nginx asks for a GET on a miss; a HEAD here would be news)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@dataclass
class Scripted:
    url: str
    answers: dict[str, Answer]
    received: list[tuple[str, str, dict[str, str]]]
    access_log: Path

    def count(self, path: str) -> int:
        """Requests for `path` (query included) that reached the upstream."""
        return sum(1 for _, got, _ in self.received if got == path)


@pytest.fixture(scope="module")
def scripted_proxy(tmp_path_factory) -> Iterator[Scripted]:
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    upstream.daemon_threads = True
    upstream.received = []  # type: ignore[attr-defined]
    upstream.answers = {}  # type: ignore[attr-defined]
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    logs = tmp_path_factory.mktemp("proxy-cache-logs")
    try:
        with shipped_proxy(f"127.0.0.1:{upstream.server_port}", logs) as url:
            yield Scripted(
                url,
                upstream.answers,  # type: ignore[attr-defined]
                upstream.received,  # type: ignore[attr-defined]
                logs / "proxy.stdout.log",
            )
    finally:
        upstream.shutdown()
        upstream.server_close()


_paths = iter(range(1_000_000))


def fresh(kind: str = "monster", suffix: str = "") -> str:
    """A path no test has asked for yet: a cache entry of its own."""
    return f"/{kind}/{next(_paths):064x}{suffix}"


@pytest.mark.parametrize(
    "path",
    [
        fresh(),
        fresh(suffix=".png"),
        fresh(suffix=".svg"),
        fresh(suffix=".webp"),
        fresh("avatar"),
        fresh("avatar", ".png"),
        fresh("avatar", ".jpg"),
    ],
)
def test_an_image_asked_twice_reaches_the_upstream_once(scripted_proxy, path):
    url = f"{path}?size=80&v=r1"
    first = settled(get(scripted_proxy.url + url), scripted_proxy.access_log)
    second = get(scripted_proxy.url + url)
    assert scripted_proxy.count(url) == 1
    assert (first.status_code, second.status_code) == (HTTPStatus.OK, HTTPStatus.OK)
    assert first.content == second.content == IMAGE
    assert (first.headers["X-Proxy-Cache"], second.headers["X-Proxy-Cache"]) == ("MISS", "HIT")


def test_the_stored_x_cache_is_never_served_again_the_proxy_says_hit(scripted_proxy):
    url = fresh() + "?size=80"
    first = settled(get(scripted_proxy.url + url), scripted_proxy.access_log)
    second = get(scripted_proxy.url + url)
    assert first.headers["X-Cache"] == "MISS"  # the app's word, passed on
    assert second.headers["X-Cache"] == "HIT"  # not the MISS stored with the copy
    assert second.headers["Cache-Control"] == KEPT_A_YEAR


def test_every_parameter_is_part_of_the_key(scripted_proxy):
    path = fresh()
    urls = [f"{path}?size=80&v=r1", f"{path}?size=96&v=r1", f"{path}?size=80&v=r2", path]
    for url in urls * 2:
        settled(get(scripted_proxy.url + url), scripted_proxy.access_log)
    assert [scripted_proxy.count(url) for url in urls] == [1, 1, 1, 1]


NEVER_KEPT = {
    "302": Answer(HTTPStatus.FOUND, {"Location": "/monster/elsewhere"}, b""),
    "404": Answer(HTTPStatus.NOT_FOUND, {}, b"Not found.\n"),
    "429": Answer(HTTPStatus.TOO_MANY_REQUESTS, {"Retry-After": "1"}, b"Slow down.\n"),
    "500": Answer(HTTPStatus.INTERNAL_SERVER_ERROR, {}, b"Oops.\n"),
    "503": Answer(HTTPStatus.SERVICE_UNAVAILABLE, {}, b"Renderer down.\n"),
    "504": Answer(HTTPStatus.GATEWAY_TIMEOUT, {}, b"Renderer slow.\n"),
    "X-Cache: BYPASS": Answer(headers={"X-Cache": "BYPASS"}),
    "Set-Cookie": Answer(headers={"Set-Cookie": "sessionid=staff; HttpOnly"}),
    "private": Answer(headers={"Cache-Control": "private, max-age=31536000, immutable"}),
    "no-store": Answer(headers={"Cache-Control": "no-store"}),
    "no Cache-Control": Answer(headers={"Cache-Control": ""}),
}


@pytest.mark.parametrize("answer", NEVER_KEPT.values(), ids=NEVER_KEPT.keys())
def test_what_the_proxy_never_keeps_even_when_marked_public(scripted_proxy, answer):
    # Every one of them says `public, max-age=31536000` unless it says otherwise: the
    # proxy's own rules keep them out, not the app's headers alone.
    path = fresh()
    scripted_proxy.answers[path] = answer
    url = f"{path}?size=80&v=r1"
    answers = [
        requests.get(scripted_proxy.url + url, allow_redirects=False, timeout=10) for _ in "abc"
    ]
    assert [a.status_code for a in answers] == [answer.status] * 3
    assert scripted_proxy.count(url) == 3
    assert [a.headers["X-Proxy-Cache"] for a in answers] == ["MISS"] * 3


def test_a_bypass_answer_keeps_the_apps_x_cache(scripted_proxy):
    path = fresh()
    scripted_proxy.answers[path] = NEVER_KEPT["X-Cache: BYPASS"]
    assert get(scripted_proxy.url + path).headers["X-Cache"] == "BYPASS"


@pytest.mark.parametrize(
    "path",
    [
        "/admin/monsters/thumbnail/" + "a" * 64,
        "/admin/../monster/" + "b" * 64,  # nginx routes it as /monster/, the app reads /admin/
        "/monster/%2e%2e/admin/" + "c" * 64,
        "/monsters/" + "d" * 64,
        "/m/" + "e" * 64,
    ],
)
def test_nothing_outside_a_plain_image_path_is_kept(scripted_proxy, path):
    scripted_proxy.answers[path] = Answer()  # public for a year: still not kept
    host, port = scripted_proxy.url.removeprefix("http://").split(":")
    for _ in "abc":
        # http.client sends the path as written (requests would remove the dot segments).
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("GET", path)
        assert connection.getresponse().status == HTTPStatus.OK
        connection.close()
    assert scripted_proxy.count(path) == 3


def test_a_304_to_if_none_match_comes_from_the_copy(scripted_proxy):
    url = fresh() + "?size=80&v=r1"
    settled(get(scripted_proxy.url + url), scripted_proxy.access_log)
    again = get(scripted_proxy.url + url, **{"If-None-Match": ETAG})
    assert again.status_code == HTTPStatus.NOT_MODIFIED
    assert again.headers["X-Proxy-Cache"] == "HIT"
    assert again.headers["ETag"] == ETAG
    assert again.headers["Cache-Control"] == KEPT_A_YEAR
    assert "X-Cache" not in again.headers  # as the app's own 304
    other = get(scripted_proxy.url + url, **{"If-None-Match": '"another"'})
    assert (other.status_code, other.content) == (HTTPStatus.OK, IMAGE)
    assert scripted_proxy.count(url) == 1


def test_a_head_comes_from_the_copy_and_a_head_miss_fills_it(scripted_proxy):
    url = fresh() + "?size=80&v=r1"
    settled(get(scripted_proxy.url + url), scripted_proxy.access_log)
    head = requests.head(scripted_proxy.url + url, timeout=10)
    assert (head.status_code, head.headers["X-Proxy-Cache"]) == (HTTPStatus.OK, "HIT")
    assert head.headers["Content-Length"] == str(len(IMAGE))
    assert scripted_proxy.count(url) == 1

    url = fresh() + "?size=80&v=r1"
    head_miss = settled(
        requests.head(scripted_proxy.url + url, timeout=10), scripted_proxy.access_log
    )
    assert head_miss.headers["X-Proxy-Cache"] == "MISS"
    got = get(scripted_proxy.url + url)
    assert (got.headers["X-Proxy-Cache"], got.content) == ("HIT", IMAGE)
    assert [method for method, path, _ in scripted_proxy.received if path == url] == ["GET"]


def test_a_copy_past_its_max_age_is_revalidated_with_the_upstream_by_etag(scripted_proxy):
    path = fresh()
    scripted_proxy.answers[path] = Answer(headers={"Cache-Control": "public, max-age=1"})
    first = settled(get(scripted_proxy.url + path), scripted_proxy.access_log)
    assert first.headers["X-Proxy-Cache"] == "MISS"
    # max-age=1: kept no longer than the app said. Once it has run out, the proxy asks
    # with the copy's ETag and the upstream's 304 renews it.
    assert eventually(
        lambda: get(scripted_proxy.url + path).headers["X-Proxy-Cache"] == "REVALIDATED",
        timeout=10,
    )
    revalidation = [headers for _, got, headers in scripted_proxy.received if got == path][-1]
    assert revalidation["If-None-Match"] == ETAG


def test_concurrent_misses_for_one_url_reach_the_upstream_once(scripted_proxy):
    url = fresh() + "?size=80&v=r1"
    results: list[requests.Response] = []
    threads = [
        threading.Thread(target=lambda: results.append(get(scripted_proxy.url + url)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in results] == [HTTPStatus.OK] * 8
    assert scripted_proxy.count(url) == 1


def test_the_access_log_says_what_the_cache_did(scripted_proxy):
    url = fresh() + "?size=80&v=r1"
    for _ in "ab":
        settled(get(scripted_proxy.url + url), scripted_proxy.access_log)
    lines = [line for line in scripted_proxy.access_log.read_text().splitlines() if url in line]
    assert [re.search(r" pc=(\S+)", line)[1] for line in lines] == ["MISS", "HIT"]
