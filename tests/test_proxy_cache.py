"""The proxy's image cache at work: Debian's nginx with the template compose ships.

Two upstreams. A scripted one answers whatever a test tells it to, so the proxy's own
rules are tested apart from what the app happens to send (a 429 marked `public` is
still never kept). Then the real thing, `make stack`'s topology (gunicorn, renderer,
PostgreSQL, Redis): a hit never reaches gunicorn (its access log says so), a 304 and a
HEAD come from the copy, and a browser sees the same headers whichever answered.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from scripts.stack import compose, databases, processes, proxy
from scripts.stack.ports import free_port
from scripts.stack.topology import Stack
from tests import per_run
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
    port = free_port()
    prefix = Path(tempfile.mkdtemp(prefix="identidock-proxy-cache-test-"))
    logs = tmp_path_factory.mktemp("proxy-cache-logs")
    config = proxy.write_config(
        prefix, listen=f"127.0.0.1:{port}", upstream=f"127.0.0.1:{upstream.server_port}"
    )
    nginx = processes.start(
        "proxy",
        proxy.command(config),
        compose.image_environment(),
        log_dir=logs,
        stop_signal=signal.SIGQUIT,
    )
    try:
        processes.wait_until_serving(nginx, f"http://127.0.0.1:{port}/healthz")
        yield Scripted(
            f"http://127.0.0.1:{port}",
            upstream.answers,  # type: ignore[attr-defined]
            upstream.received,  # type: ignore[attr-defined]
            logs / "proxy.stdout.log",
        )
    finally:
        nginx.stop()
        upstream.shutdown()
        upstream.server_close()
        shutil.rmtree(prefix)


_paths = iter(range(1_000_000))


def fresh(kind: str = "monster", suffix: str = "") -> str:
    """A path no test has asked for yet: a cache entry of its own."""
    return f"/{kind}/{next(_paths):064x}{suffix}"


def _get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers=headers, timeout=10)


def settled(answer: requests.Response, access_log: Path) -> requests.Response:
    """`answer`, once nginx has logged its request. nginx writes a copy into its cache
    after the client has the last byte and before it logs the request: a request sent
    sooner may find no copy yet (a second miss, harmless, but not what a test asks)."""
    request_id = answer.headers["X-Request-ID"]
    assert eventually(lambda: f"id={request_id}" in access_log.read_text())
    return answer


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
    first = settled(_get(scripted_proxy.url + url), scripted_proxy.access_log)
    second = _get(scripted_proxy.url + url)
    assert scripted_proxy.count(url) == 1
    assert (first.status_code, second.status_code) == (HTTPStatus.OK, HTTPStatus.OK)
    assert first.content == second.content == IMAGE
    assert (first.headers["X-Proxy-Cache"], second.headers["X-Proxy-Cache"]) == ("MISS", "HIT")


def test_the_stored_x_cache_is_never_served_again_the_proxy_says_hit(scripted_proxy):
    url = fresh() + "?size=80"
    first = settled(_get(scripted_proxy.url + url), scripted_proxy.access_log)
    second = _get(scripted_proxy.url + url)
    assert first.headers["X-Cache"] == "MISS"  # the app's word, passed on
    assert second.headers["X-Cache"] == "HIT"  # not the MISS stored with the copy
    assert second.headers["Cache-Control"] == KEPT_A_YEAR


def test_every_parameter_is_part_of_the_key(scripted_proxy):
    path = fresh()
    urls = [f"{path}?size=80&v=r1", f"{path}?size=96&v=r1", f"{path}?size=80&v=r2", path]
    for url in urls * 2:
        settled(_get(scripted_proxy.url + url), scripted_proxy.access_log)
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
    assert _get(scripted_proxy.url + path).headers["X-Cache"] == "BYPASS"


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
    settled(_get(scripted_proxy.url + url), scripted_proxy.access_log)
    again = _get(scripted_proxy.url + url, **{"If-None-Match": ETAG})
    assert again.status_code == HTTPStatus.NOT_MODIFIED
    assert again.headers["X-Proxy-Cache"] == "HIT"
    assert again.headers["ETag"] == ETAG
    assert again.headers["Cache-Control"] == KEPT_A_YEAR
    assert "X-Cache" not in again.headers  # as the app's own 304
    other = _get(scripted_proxy.url + url, **{"If-None-Match": '"another"'})
    assert (other.status_code, other.content) == (HTTPStatus.OK, IMAGE)
    assert scripted_proxy.count(url) == 1


def test_a_head_comes_from_the_copy_and_a_head_miss_fills_it(scripted_proxy):
    url = fresh() + "?size=80&v=r1"
    settled(_get(scripted_proxy.url + url), scripted_proxy.access_log)
    head = requests.head(scripted_proxy.url + url, timeout=10)
    assert (head.status_code, head.headers["X-Proxy-Cache"]) == (HTTPStatus.OK, "HIT")
    assert head.headers["Content-Length"] == str(len(IMAGE))
    assert scripted_proxy.count(url) == 1

    url = fresh() + "?size=80&v=r1"
    head_miss = settled(
        requests.head(scripted_proxy.url + url, timeout=10), scripted_proxy.access_log
    )
    assert head_miss.headers["X-Proxy-Cache"] == "MISS"
    got = _get(scripted_proxy.url + url)
    assert (got.headers["X-Proxy-Cache"], got.content) == ("HIT", IMAGE)
    assert [method for method, path, _ in scripted_proxy.received if path == url] == ["GET"]


def test_a_copy_past_its_max_age_is_revalidated_with_the_upstream_by_etag(scripted_proxy):
    path = fresh()
    scripted_proxy.answers[path] = Answer(headers={"Cache-Control": "public, max-age=1"})
    first = settled(_get(scripted_proxy.url + path), scripted_proxy.access_log)
    assert first.headers["X-Proxy-Cache"] == "MISS"
    # max-age=1: kept no longer than the app said. Once it has run out, the proxy asks
    # with the copy's ETag and the upstream's 304 renews it.
    assert eventually(
        lambda: _get(scripted_proxy.url + path).headers["X-Proxy-Cache"] == "REVALIDATED",
        timeout=10,
    )
    revalidation = [headers for _, got, headers in scripted_proxy.received if got == path][-1]
    assert revalidation["If-None-Match"] == ETAG


def test_concurrent_misses_for_one_url_reach_the_upstream_once(scripted_proxy):
    url = fresh() + "?size=80&v=r1"
    results: list[requests.Response] = []
    threads = [
        threading.Thread(target=lambda: results.append(_get(scripted_proxy.url + url)))
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
        settled(_get(scripted_proxy.url + url), scripted_proxy.access_log)
    lines = [line for line in scripted_proxy.access_log.read_text().splitlines() if url in line]
    assert [re.search(r" pc=(\S+)", line)[1] for line in lines] == ["MISS", "HIT"]


# --- In front of the app: `make stack`'s topology ---------------------------------------

SECRETS = {
    "SECRET_KEY": "proxy-cache-test-" + "k" * 40,
    "POSTGRES_PASSWORD": "unused",
    "IDENTIDOCK_SALT": "proxy-cache-test-salt-" + "s" * 16,
}
_MONSTER_PATH = re.compile(r'src="(/monster/[0-9a-f]{64})\?size=\d+&amp;v=([\w.-]+)"')
# What only the answering layer decides, or what differs per request.
PER_ANSWER = {"date", "server", "x-request-id", "x-proxy-cache", "connection", "keep-alive"}


@dataclass
class Running:
    stack: Stack
    monster: str  # /monster/<hash>, from the home page
    revision: str  # the current `v`

    def get(self, url: str, **headers: str) -> requests.Response:
        """GET through the proxy, once nginx has logged it (so its copy is kept)."""
        return settled(_get(self.stack.url + url, **headers), self.proxy_log)

    @property
    def proxy_log(self) -> Path:
        assert self.stack.log_dir is not None
        return self.stack.log_dir / "proxy.stdout.log"

    @property
    def gunicorn_log(self) -> Path:
        assert self.stack.log_dir is not None
        return self.stack.log_dir / "identidock.stdout.log"

    def gunicorn_saw(self, path: str, *, at_least: int) -> int:
        """How many requests for `path` gunicorn's access log shows. gunicorn logs a
        request after answering it, so this waits for `at_least` of them, then for a
        request sent after them all to be logged, then counts."""
        count = lambda: self.gunicorn_log.read_text().count(f" {path} HTTP/1.1")  # noqa: E731
        assert eventually(lambda: count() >= at_least)
        marker = f"/healthz?after={next(_paths)}"
        assert _get(self.stack.web_url + marker).status_code == HTTPStatus.OK
        assert eventually(lambda: marker in self.gunicorn_log.read_text())
        return count()


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> Iterator[Running]:
    database_url = databases.scratch_database_url(
        os.environ["DATABASE_URL"], prefix="test_identidock_proxy_cache"
    )
    databases.create_database(database_url)
    try:
        with Stack(
            database_url=database_url,
            redis_url=os.environ["REDIS_URL"],
            # The run's own cache keys: other test runs may share this Redis database.
            variables={
                **SECRETS,
                "GUNICORN_WORKERS": "1",
                "CACHE_KEY_PREFIX": per_run.cache_key_prefix(),
            },
            log_dir=tmp_path_factory.mktemp("proxy-cache-stack-logs"),
        ) as stack:
            found = _MONSTER_PATH.search(_get(stack.url + "/").text)
            assert found, "the home page shows no monster"
            yield Running(stack, found[1], found[2])
    finally:
        databases.drop_database(database_url)


def _sizes() -> Iterator[int]:
    yield from range(16, 513)


_size = _sizes()


def _image_url(running: Running, suffix: str = "", *, versioned: bool = True) -> str:
    """An image URL nobody has asked for yet: a size of its own."""
    url = f"{running.monster}{suffix}?size={next(_size)}"
    return f"{url}&v={running.revision}" if versioned else url


def _headers(answer: requests.Response) -> dict[str, str]:
    return {name.lower(): value for name, value in answer.headers.items()} | {
        "status": str(answer.status_code)
    }


def _browser_sees(answer: requests.Response) -> dict[str, str]:
    return {k: v for k, v in _headers(answer).items() if k not in PER_ANSWER}


@pytest.mark.parametrize("suffix", ["", ".png", ".webp", ".svg"])
def test_a_second_request_is_answered_by_the_proxy_without_reaching_gunicorn(running, suffix):
    url = _image_url(running, suffix)
    first = running.get(url)
    second = _get(running.stack.url + url)
    assert (first.status_code, second.status_code) == (HTTPStatus.OK, HTTPStatus.OK)
    assert (first.headers["X-Proxy-Cache"], second.headers["X-Proxy-Cache"]) == ("MISS", "HIT")
    assert first.headers["X-Cache"] == "MISS"  # drawn for it, by the app
    assert second.content == first.content
    assert running.gunicorn_saw(url, at_least=1) == 1


@pytest.mark.parametrize("versioned", [True, False], ids=["v", "no v"])
def test_a_browser_sees_the_same_headers_from_the_proxys_copy_as_from_the_app(running, versioned):
    url = _image_url(running, versioned=versioned)
    running.get(url)  # the proxy keeps a copy; the app keeps one in Redis
    from_proxy = _get(running.stack.url + url)
    from_app = _get(running.stack.web_url + url)  # gunicorn itself: a hit in Redis
    assert from_proxy.headers["X-Proxy-Cache"] == "HIT"
    assert _browser_sees(from_proxy) == _browser_sees(from_app)
    assert from_proxy.content == from_app.content
    expected = "public, max-age=31536000, immutable" if versioned else "public, max-age=86400"
    assert from_proxy.headers["Cache-Control"] == expected


def test_a_304_and_a_head_come_from_the_copy_with_the_apps_headers(running):
    url = _image_url(running)
    etag = running.get(url).headers["ETag"]
    not_modified = _get(running.stack.url + url, **{"If-None-Match": etag})
    head = requests.head(running.stack.url + url, timeout=10)
    assert (not_modified.status_code, not_modified.headers["X-Proxy-Cache"]) == (304, "HIT")
    assert (head.status_code, head.headers["X-Proxy-Cache"]) == (HTTPStatus.OK, "HIT")
    assert running.gunicorn_saw(url, at_least=1) == 1
    # The app's own 304 and HEAD, for the same URL, say the same (nginx leaves out a
    # 304's `Content-Length: 0`, which says nothing: a 304 has no body).
    apps_304 = _get(running.stack.web_url + url, **{"If-None-Match": etag})
    apps_head = requests.head(running.stack.web_url + url, timeout=10)
    assert apps_304.status_code == HTTPStatus.NOT_MODIFIED
    without_length = {k: v for k, v in _browser_sees(apps_304).items() if k != "content-length"}
    assert {k: v for k, v in _browser_sees(not_modified).items() if k != "content-length"} == (
        without_length
    )
    assert _browser_sees(head) == _browser_sees(apps_head)


def test_an_old_revision_still_redirects_every_time(running):
    url = f"{running.monster}?size={next(_size)}&v=an-old-revision"
    answers = [
        requests.get(running.stack.url + url, allow_redirects=False, timeout=10) for _ in "ab"
    ]
    assert [a.status_code for a in answers] == [HTTPStatus.FOUND] * 2
    assert all(f"v={running.revision}" in a.headers["Location"] for a in answers)
    assert running.gunicorn_saw(url, at_least=2) == 2


def test_a_404_reaches_the_app_every_time(running):
    url = "/monster/" + "0" * 63 + "g?size=80"  # not a hash
    assert [_get(running.stack.url + url).status_code for _ in "ab"] == [HTTPStatus.NOT_FOUND] * 2
    assert running.gunicorn_saw(url, at_least=2) == 2


def test_a_bad_size_reaches_the_app_every_time(running):
    url = f"{running.monster}?size=9999&v={running.revision}"
    assert [_get(running.stack.url + url).status_code for _ in "ab"] == [400, 400]
    assert running.gunicorn_saw(url, at_least=2) == 2


def test_the_admin_is_never_kept(running):
    answers = [_get(running.stack.url + "/admin/login/") for _ in "ab"]
    assert [a.status_code for a in answers] == [HTTPStatus.OK] * 2
    assert all("X-Proxy-Cache" not in a.headers for a in answers)
    assert running.gunicorn_saw("/admin/login/", at_least=2) == 2


def test_nginx_counts_what_it_served_on_its_status_port(running):
    status = _get(running.stack.proxy_status_url)
    assert status.status_code == HTTPStatus.OK
    assert re.search(r"^Active connections: \d+", status.text, re.M)
    assert re.search(r"^\s*\d+ \d+ \d+\s*$", status.text, re.M)  # accepts handled requests
