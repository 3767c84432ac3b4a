"""What the serving benches do as a client before the load: read the home page (the
monster URL's form, the CSRF cookie and token), warm monsters, record a cache hit for the
ceiling app, and check one request of each scenario before wrk sends thousands."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import redis
import requests

SIZE = 80
HEX64 = re.compile(r"[0-9a-f]{64}")
# Headers that belong to the server and the connection, not to the recorded response.
HOP_HEADERS = {"date", "server", "connection", "keep-alive", "transfer-encoding"}
# Set in the bench's Redis database once it is warm: gone means something emptied it.
WARM_MARK = "bench:warm"


@dataclass
class Site:
    """What a client learns from Identidock's home page."""

    monster_query: str  # e.g. "?size=80&v=identidock-r1"
    csrf_cookie: str
    csrf_token: str

    def monster_paths(self, hashes: list[str]) -> list[str]:
        return [f"/monster/{name_hash}{self.monster_query}" for name_hash in hashes]


def read_home_page(base_url: str, revision: str) -> Site:
    """GET / once, as a first visitor: see `parse_home_page`."""
    response = requests.get(base_url + "/", timeout=10)
    response.raise_for_status()
    return parse_home_page(response.text, response.cookies.get("csrftoken"), revision)


def parse_home_page(page: str, csrf_cookie: str | None, revision: str) -> Site:
    """The monster URL's form from the page's <img src>, and the CSRF cookie and token.

    The query is the page's, at size=80; a page that does not put `v` in its URLs yet
    gets `v=<revision>` (computed as the app does: DNMONSTER_REVISION, the renderer being
    over HTTP), so hits and 304s always use a versioned URL.
    """
    sources = [html.unescape(src) for src in re.findall(r'<img[^>]*\ssrc="([^"]+)"', page)]
    monsters = [urlsplit(src) for src in sources if urlsplit(src).path.startswith("/monster/")]
    if not monsters:
        raise RuntimeError(f"no <img src=/monster/...> on the home page; found {sources}")
    if not HEX64.fullmatch(monsters[0].path.removeprefix("/monster/")):
        raise RuntimeError(f"unexpected monster URL on the home page: {monsters[0].geturl()}")
    query = dict(parse_qsl(monsters[0].query, keep_blank_values=True))
    query["size"] = str(SIZE)
    query.setdefault("v", revision)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if not token or not csrf_cookie:
        raise RuntimeError("the home page set no CSRF cookie or form token")
    return Site(
        monster_query="?" + urlencode(query),
        csrf_cookie=f"csrftoken={csrf_cookie}",
        csrf_token=token.group(1),
    )


def bench_hashes(count: int) -> list[str]:
    """The same `count` hashes every run (the Redis database is flushed first)."""
    return [hashlib.sha256(f"serve-bench {n}".encode()).hexdigest() for n in range(count)]


def warm(base_url: str, paths: list[str], concurrency: int = 8) -> dict[str, str]:
    """GET every path once (each a miss: rendered, cached, recorded); their ETags."""
    local = threading.local()

    def fetch(path: str) -> tuple[str, str]:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        response = local.session.get(base_url + path, timeout=30, allow_redirects=False)
        if response.status_code != 200 or response.headers.get("Content-Type") != "image/png":
            raise RuntimeError(
                f"warming {path}: {response.status_code} {response.headers.get('Location', '')}"
            )
        return path, response.headers["ETag"]

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return dict(pool.map(fetch, paths))


@dataclass
class WarmSet:
    """Monster paths kept cached in the bench's Redis database for the hit scenarios."""

    base_url: str
    paths: list[str]
    redis: redis.Redis
    etags: dict[str, str] = field(default_factory=dict)
    rewarmed: int = 0  # times something else emptied the database and the bench warmed again

    def warm(self) -> dict[str, str]:
        """Warm every path (their ETags), then mark the Redis database as warm."""
        self.etags = warm(self.base_url, self.paths)
        self.redis.set(WARM_MARK, "1")
        return self.etags

    def ensure_warm(self) -> None:
        """Warm again if something else emptied the bench's Redis database meanwhile (a
        shared server's other users may have taken the same database number)."""
        if not self.redis.exists(WARM_MARK):
            self.rewarmed += 1
            print("the bench's Redis database was emptied by something else: warming again")
            self.warm()


def record_hit(base_url: str, path: str, destination: Path) -> int:
    """One cache hit of Identidock's, status, headers and bytes, for the ceiling app; the
    PNG's size."""
    for _ in range(3):  # a miss stores the entry again: the next try is a hit
        response = requests.get(base_url + path, timeout=10)
        if response.status_code == 200 and response.headers.get("X-Cache") == "HIT":
            break
    else:
        raise RuntimeError(
            f"expected a cache hit at {path}: {response.status_code} "
            f"X-Cache: {response.headers.get('X-Cache')}"
        )
    headers = [[k, v] for k, v in response.headers.items() if k.lower() not in HOP_HEADERS]
    destination.write_text(
        json.dumps(
            {
                "status": f"{response.status_code} {response.reason}",
                "headers": headers,
                "body": base64.b64encode(response.content).decode(),
            }
        )
    )
    return len(response.content)


def check(label: str, response: requests.Response, status: int, **headers: str) -> str:
    """One request of a scenario, checked before wrk sends thousands like it."""
    if response.status_code != status:
        raise RuntimeError(f"{label}: expected {status}, got {response.status_code}")
    for name, value in headers.items():
        actual = response.headers.get(name.replace("_", "-"), "")
        if actual != value:
            raise RuntimeError(f"{label}: expected {name}: {value}, got {actual!r}")
    return f"{label} {response.status_code}"
