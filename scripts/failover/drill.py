"""A bounded load on the monster route, and what it saw around a failover.

`Load` runs a few threads until stopped: "hit" threads cycle through monsters cached
beforehand, "new" threads ask for a monster nobody asked for before, one request after
another with a short `pause` between, so the load is bounded by the thread count and
the pause however fast the answers come. How a request is made is the caller's `fetch`:
Django's test client in the test, HTTP to gunicorn in the bench. Every answer is kept
with its times, and `Figures` reads them against the moment the primary was killed
and the moment a sentinel named the new one.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

HIT, NEW = "hit", "new"

# fetch(path) -> (HTTP status, X-Cache or "")
Fetch = Callable[[str], tuple[int, str]]


@dataclass(frozen=True)
class Answer:
    kind: str  # HIT or NEW: what the thread asked for
    started: float  # time.monotonic()
    ended: float
    status: int
    cache: str  # X-Cache: HIT, MISS, BYPASS ("" when absent)


def new_monster_path(size: int = 80) -> str:
    """The route of a monster nobody has asked for (a random hash)."""
    return f"/monster/{secrets.token_hex(32)}?size={size}"


class Load:
    def __init__(
        self,
        fetch: Fetch,
        *,
        hit_paths: Sequence[str],
        hit_threads: int = 3,
        new_threads: int = 1,
        pause: float = 0.005,
        finish: Callable[[], None] | None = None,
    ) -> None:
        """`finish` runs in each thread as it ends (the test closes its database
        connection there)."""
        self._fetch = fetch
        self._hit_paths = list(hit_paths)
        self._kinds = [HIT] * hit_threads + [NEW] * new_threads
        self._pause = pause
        self._finish = finish
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._answers: list[Answer] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        for number, kind in enumerate(self._kinds):
            thread = threading.Thread(
                target=self._run, args=(kind, number), name=f"load-{kind}-{number}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout: float = 30.0) -> list[Answer]:
        """Stop the threads (each finishes its request) and return every answer."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        with self._lock:
            return sorted(self._answers, key=lambda answer: answer.started)

    def _run(self, kind: str, number: int) -> None:
        paths = itertools.cycle(self._hit_paths[number:] + self._hit_paths[:number])
        try:
            while not self._stop.wait(self._pause):
                path = next(paths) if kind == HIT else new_monster_path()
                started = time.monotonic()
                try:
                    status, cache = self._fetch(path)
                except OSError:  # the server did not answer at all: as bad as a 5xx
                    status, cache = 599, ""
                answer = Answer(kind, started, time.monotonic(), status, cache)
                with self._lock:
                    self._answers.append(answer)
        finally:
            if self._finish is not None:
                self._finish()


@dataclass(frozen=True)
class Figures:
    """What the clients saw; times in seconds after the kill."""

    requests: int
    statuses: dict[int, int]
    caches: dict[str, int]
    failover_seconds: float  # kill -> a sentinel names the new primary
    bypass: int
    bypass_hits: int  # of those, answers to "hit" threads
    first_bypass: float | None
    last_bypass: float | None  # when the last BYPASS answer was asked for
    first_miss_after_failover: float | None  # caching works again: a new monster stored
    requests_per_second: float

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)

    @property
    def bypass_span(self) -> float:
        """Seconds from the first BYPASS answer asked for to the last one asked for."""
        if self.first_bypass is None or self.last_bypass is None:
            return 0.0
        return self.last_bypass - self.first_bypass

    def lines(self) -> list[str]:
        def at(value: float | None) -> str:
            return "none" if value is None else f"{value:+.2f} s"

        statuses = ", ".join(f"{status}: {n}" for status, n in sorted(self.statuses.items()))
        caches = ", ".join(f"{cache or '-'}: {n}" for cache, n in sorted(self.caches.items()))
        return [
            f"failover window (kill -> a sentinel names the new primary): "
            f"{self.failover_seconds:.2f} s",
            f"requests: {self.requests} ({self.requests_per_second:.0f}/s); "
            f"statuses: {statuses}; 5xx: {self.server_errors}",
            f"X-Cache: {caches}",
            f"BYPASS: {self.bypass} answers ({self.bypass_hits} to hit requests), "
            f"from {at(self.first_bypass)} to {at(self.last_bypass)} after the kill",
            f"first new monster cached after the failover: {at(self.first_miss_after_failover)}",
        ]


def figures(answers: Sequence[Answer], *, killed_at: float, switched_at: float) -> Figures:
    bypassed = [answer for answer in answers if answer.cache == "BYPASS"]
    misses_after = [
        answer.ended
        for answer in answers
        if answer.cache == "MISS" and answer.started >= switched_at and answer.kind == NEW
    ]
    span = (answers[-1].ended - answers[0].started) if answers else 0.0
    return Figures(
        requests=len(answers),
        statuses=dict(Counter(answer.status for answer in answers)),
        caches=dict(Counter(answer.cache for answer in answers)),
        failover_seconds=switched_at - killed_at,
        bypass=len(bypassed),
        bypass_hits=sum(answer.kind == HIT for answer in bypassed),
        first_bypass=bypassed[0].started - killed_at if bypassed else None,
        last_bypass=max(answer.started for answer in bypassed) - killed_at if bypassed else None,
        first_miss_after_failover=min(misses_after) - killed_at if misses_after else None,
        requests_per_second=len(answers) / span if span else 0.0,
    )
