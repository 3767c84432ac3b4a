"""What the proxy bench checks around its load: that the shipped proxy's own copy answers.

Before the load, every warmed image is asked for once more and must say
`X-Proxy-Cache: HIT` (`fetch`, `cache_states`). Around it, the logs say who answered:
the proxy's access log ends each line with `pc=$upstream_cache_status` (the template's
`identidock` format), and gunicorn's access log has a line for every request that got
past the proxy (`image_requests`).
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

PROXY_CACHE = "X-Proxy-Cache"
# A GET of an image in an access log line (the proxy logs an avatar as /avatar/<redacted>).
_IMAGE_REQUEST = re.compile(rb'"(?:GET|HEAD) /(?:monster|avatar)/')
_CACHE_STATUS = re.compile(rb" pc=(\S*)\s*$")


def fetch(
    base_url: str, paths: list[str], headers: dict[str, str] | None = None, concurrency: int = 8
) -> dict[str, requests.Response]:
    """GET every path once, on kept-alive connections; each path's response."""
    local = threading.local()

    def get(path: str) -> tuple[str, requests.Response]:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.trust_env = False  # a local server: no proxy from the environment
        return path, local.session.get(base_url + path, headers=headers, timeout=30)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return dict(pool.map(get, paths))


def cache_states(responses: dict[str, requests.Response]) -> Counter[str]:
    """How many answers said each "<status> <X-Proxy-Cache>", e.g. "200 HIT"."""
    return Counter(
        f"{response.status_code} {response.headers.get(PROXY_CACHE, '-')}"
        for response in responses.values()
    )


def proxy_cache_statuses(log: Path, *, after: int = 0) -> Counter[str]:
    """The proxy's image requests past byte `after` of its access log, by what its cache
    did (`pc=`: HIT, MISS, EXPIRED, ...; "-" when it was not consulted)."""
    statuses: Counter[str] = Counter()
    with log.open("rb") as lines:
        lines.seek(after)
        for line in lines:
            if _IMAGE_REQUEST.search(line):
                found = _CACHE_STATUS.search(line)
                statuses[found[1].decode() if found else "?"] += 1
    return statuses


def image_requests(log: Path, *, after: int = 0) -> int:
    """Image requests past byte `after` of an access log (gunicorn's: each one reached
    the app)."""
    with log.open("rb") as lines:
        lines.seek(after)
        return sum(1 for line in lines if _IMAGE_REQUEST.search(line))
