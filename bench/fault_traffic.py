"""The fault bench's traffic: kept-alive connections of a Python client (one thread and
one requests.Session each) sending the mix (90 % cached monsters, 9 % new ones, 1 % form
posts with the CSRF cookie and token), every answer kept with when it was asked for."""

from __future__ import annotations

import functools
import random
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

HIT_SHARE, MISS_SHARE = 0.90, 0.09  # the rest are form posts
SIZE = 80
CONNECT_TIMEOUT, READ_TIMEOUT = 5.0, 35.0  # longer than the proxy's 30 s read timeout
_CSRF_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass(frozen=True)
class Answer:
    at: float  # seconds since the run started, when the request was sent
    kind: str  # hit | miss | post
    status: int | None  # None: the client got no answer (the error says why)
    cache: str  # X-Cache, or ""
    ms: float
    name_hash: str = ""
    error: str = ""


@dataclass
class Target:
    """Where the traffic goes: the proxy, the art's revision, the warmed hashes."""

    url: str
    revision: str
    warm: list[str]

    def monster(self, name_hash: str) -> str:
        return f"{self.url}/monster/{name_hash}?size={SIZE}&v={self.revision}"


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # a local server: no proxy from the environment
    return session


def _answer(at: float, kind: str, call: Callable[[], requests.Response], name_hash: str) -> Answer:
    started = time.perf_counter()
    try:
        response = call()
    except requests.RequestException as exc:
        ms = (time.perf_counter() - started) * 1000
        return Answer(at, kind, None, "", ms, name_hash, type(exc).__name__)
    ms = (time.perf_counter() - started) * 1000
    return Answer(
        at, kind, response.status_code, response.headers.get("X-Cache", ""), ms, name_hash
    )


def _connection(target: Target, number: int, started: float, deadline: float) -> list[Answer]:
    """One kept-alive connection's requests, in the mix, until the deadline."""
    rng = random.Random(number)  # noqa: S311 - a traffic mix, not a secret
    answers = []
    timeout = (CONNECT_TIMEOUT, READ_TIMEOUT)
    headers = {"Origin": target.url, "Referer": target.url + "/"}  # as a browser posts
    with _session() as session:
        token = ""
        while time.monotonic() < deadline:
            at = time.monotonic() - started
            draw = rng.random()
            if draw < HIT_SHARE + MISS_SHARE:
                kind = "hit" if draw < HIT_SHARE else "miss"
                name_hash = rng.choice(target.warm) if kind == "hit" else secrets.token_hex(32)
                call = functools.partial(session.get, target.monster(name_hash), timeout=timeout)
                answers.append(_answer(at, kind, call, name_hash))
                continue
            token = token or _csrf_token(session, target.url, timeout)
            data = {"csrfmiddlewaretoken": token, "name": f"Fault bench {number} {at:.3f}"}
            call = functools.partial(
                session.post, target.url + "/", data=data, headers=headers, timeout=timeout
            )
            answers.append(_answer(at, "post", call, ""))
    return answers


def _csrf_token(session: requests.Session, url: str, timeout: tuple[float, float]) -> str:
    """The form's CSRF token; the session keeps the cookie that goes with it."""
    try:
        found = _CSRF_TOKEN.search(session.get(url + "/", timeout=timeout).text)
    except requests.RequestException:
        return ""
    return found[1] if found else ""


def load(target: Target, connections: int, started: float, seconds: float) -> list[Answer]:
    deadline = started + seconds
    with ThreadPoolExecutor(max_workers=connections) as pool:
        futures = [
            pool.submit(_connection, target, number, started, deadline)
            for number in range(connections)
        ]
        return [answer for future in futures for answer in future.result()]


def warm(target: Target) -> Counter[str]:
    """Fetch every warmed monster once; what X-Cache said, counted."""
    with _session() as session, ThreadPoolExecutor(max_workers=16) as pool:
        answers = pool.map(
            lambda name_hash: session.get(target.monster(name_hash), timeout=30), target.warm
        )
        return Counter(
            f"{answer.status_code} {answer.headers.get('X-Cache', '-')}" for answer in answers
        )
