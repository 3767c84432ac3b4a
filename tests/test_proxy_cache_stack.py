"""The proxy's image cache in front of the app: Debian's nginx with the template compose
ships, in `make stack`'s topology (gunicorn, renderer, PostgreSQL, Redis). A hit never
reaches gunicorn (its access log says so), a 304 and a HEAD come from the copy, and a
browser sees the same headers whichever answered. The proxy's own rules, against a
scripted upstream: tests/test_proxy_cache_rules.py.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

import pytest
import requests

from scripts.stack import databases
from scripts.stack.topology import Stack
from tests import per_run
from tests.proxy_requests import get, settled
from tests.waiting import eventually

SECRETS = {
    "SECRET_KEY": "proxy-cache-test-" + "k" * 40,
    "POSTGRES_PASSWORD": "unused",
    "IDENTIDOCK_SALT": "proxy-cache-test-salt-" + "s" * 16,
}
_MONSTER_PATH = re.compile(r'src="(/monster/[0-9a-f]{64})\?size=\d+&amp;v=([\w.-]+)"')
# What only the answering layer decides, or what differs per request.
PER_ANSWER = {"date", "server", "x-request-id", "x-proxy-cache", "connection", "keep-alive"}

# Requests sent after those a test counts in gunicorn's log (Running.gunicorn_saw).
_markers = iter(range(1_000_000))


@dataclass
class Running:
    stack: Stack
    monster: str  # /monster/<hash>, from the home page
    revision: str  # the current `v`

    def get(self, url: str, **headers: str) -> requests.Response:
        """GET through the proxy, once nginx has logged it (so its copy is kept)."""
        return settled(get(self.stack.url + url, **headers), self.proxy_log)

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
        marker = f"/healthz?after={next(_markers)}"
        assert get(self.stack.web_url + marker).status_code == HTTPStatus.OK
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
            found = _MONSTER_PATH.search(get(stack.url + "/").text)
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
    second = get(running.stack.url + url)
    assert (first.status_code, second.status_code) == (HTTPStatus.OK, HTTPStatus.OK)
    assert (first.headers["X-Proxy-Cache"], second.headers["X-Proxy-Cache"]) == ("MISS", "HIT")
    assert first.headers["X-Cache"] == "MISS"  # drawn for it, by the app
    assert second.content == first.content
    assert running.gunicorn_saw(url, at_least=1) == 1


@pytest.mark.parametrize("versioned", [True, False], ids=["v", "no v"])
def test_a_browser_sees_the_same_headers_from_the_proxys_copy_as_from_the_app(running, versioned):
    url = _image_url(running, versioned=versioned)
    running.get(url)  # the proxy keeps a copy; the app keeps one in Redis
    from_proxy = get(running.stack.url + url)
    from_app = get(running.stack.web_url + url)  # gunicorn itself: a hit in Redis
    assert from_proxy.headers["X-Proxy-Cache"] == "HIT"
    assert _browser_sees(from_proxy) == _browser_sees(from_app)
    assert from_proxy.content == from_app.content
    expected = "public, max-age=31536000, immutable" if versioned else "public, max-age=86400"
    assert from_proxy.headers["Cache-Control"] == expected


def test_a_304_and_a_head_come_from_the_copy_with_the_apps_headers(running):
    url = _image_url(running)
    etag = running.get(url).headers["ETag"]
    not_modified = get(running.stack.url + url, **{"If-None-Match": etag})
    head = requests.head(running.stack.url + url, timeout=10)
    assert (not_modified.status_code, not_modified.headers["X-Proxy-Cache"]) == (304, "HIT")
    assert (head.status_code, head.headers["X-Proxy-Cache"]) == (HTTPStatus.OK, "HIT")
    assert running.gunicorn_saw(url, at_least=1) == 1
    # The app's own 304 and HEAD, for the same URL, say the same (nginx leaves out a
    # 304's `Content-Length: 0`, which says nothing: a 304 has no body).
    apps_304 = get(running.stack.web_url + url, **{"If-None-Match": etag})
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
    assert [get(running.stack.url + url).status_code for _ in "ab"] == [HTTPStatus.NOT_FOUND] * 2
    assert running.gunicorn_saw(url, at_least=2) == 2


def test_a_bad_size_reaches_the_app_every_time(running):
    url = f"{running.monster}?size=9999&v={running.revision}"
    assert [get(running.stack.url + url).status_code for _ in "ab"] == [400, 400]
    assert running.gunicorn_saw(url, at_least=2) == 2


def test_the_admin_is_never_kept(running):
    answers = [get(running.stack.url + "/admin/login/") for _ in "ab"]
    assert [a.status_code for a in answers] == [HTTPStatus.OK] * 2
    assert all("X-Proxy-Cache" not in a.headers for a in answers)
    assert running.gunicorn_saw("/admin/login/", at_least=2) == 2


def test_nginx_counts_what_it_served_on_its_status_port(running):
    status = get(running.stack.proxy_status_url)
    assert status.status_code == HTTPStatus.OK
    assert re.search(r"^Active connections: \d+", status.text, re.M)
    assert re.search(r"^\s*\d+ \d+ \d+\s*$", status.text, re.M)  # accepts handled requests
