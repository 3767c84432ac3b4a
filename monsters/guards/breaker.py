"""Circuit breakers, one per dependency per process: a dependency that is down is
skipped fast instead of being waited on by every request.

Closed: calls go through; `failures_to_open` failures in a row open it. Open: calls are
refused at once for `cool_down` seconds (`retry_after()` says how long is left). Then
exactly one call is let through as a probe (half-open): its success closes the breaker,
its failure opens it for another cool-down. Each change of state is logged once, at
warning level, and counted; nothing is logged per refused call.

Written here rather than taken from pybreaker: that library lets every call through
while half-open and does not say how long is left, and both are needed here (one probe,
and `Retry-After`).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from monsters.metrics import BREAKER_OPEN, BREAKER_OPENINGS, dependency_kind

logger = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


@dataclass
class Breaker:
    name: str  # what it guards, for the log: "renderer http://dnmonster:8080"
    failures_to_open: int
    cool_down: float
    state: str = CLOSED
    failures_in_a_row: int = 0
    opened_at: float = 0.0
    times_opened: int = 0
    refused: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def allow(self) -> bool:
        """Whether a call may go ahead now; a refused one should fail fast."""
        if self.state == CLOSED:  # the hot path: no lock while all is well
            return True
        with self._lock:
            if self.state == CLOSED:
                return True
            if self.state == OPEN and time.monotonic() - self.opened_at >= self.cool_down:
                self.state = HALF_OPEN  # this caller is the probe
                return True
            self.refused += 1
            return False

    def succeeded(self) -> None:
        if self.state == CLOSED and not self.failures_in_a_row:
            return
        with self._lock:
            was = self.state
            self.state, self.failures_in_a_row = CLOSED, 0
        if was != CLOSED:
            BREAKER_OPEN.labels(dependency_kind(self.name)).set(0)
            logger.warning("%s is back up", self.name)

    def failed(self) -> None:
        with self._lock:
            self.failures_in_a_row += 1
            if self.state == HALF_OPEN or (
                self.state == CLOSED and self.failures_in_a_row >= self.failures_to_open
            ):
                newly_open = self.state == CLOSED
                self.state, self.opened_at = OPEN, time.monotonic()
                self.times_opened += 1
            else:
                return
        if newly_open:
            BREAKER_OPEN.labels(dependency_kind(self.name)).set(1)
            BREAKER_OPENINGS.labels(dependency_kind(self.name)).inc()
            logger.warning(
                "%s is down (%d failures in a row): failing fast, probing every %.1f s",
                self.name,
                self.failures_in_a_row,
                self.cool_down,
            )

    def trip(self) -> None:
        """Open now, whatever the count: one failure that says as much as several (a
        deadline missed on a database that does not answer)."""
        with self._lock:
            self.failures_in_a_row = max(self.failures_in_a_row, self.failures_to_open - 1)
        self.failed()

    def refusing(self) -> bool:
        """Open and still cooling down: what `allow()` would refuse, asked without
        taking the half-open probe's turn."""
        return self.state == OPEN and time.monotonic() - self.opened_at < self.cool_down

    def retry_after(self) -> float:
        """Seconds until the next probe may go through (0 when closed)."""
        with self._lock:
            if self.state == CLOSED:
                return 0.0
            return max(0.0, self.cool_down - (time.monotonic() - self.opened_at))


_breakers: dict[str, Breaker] = {}
_registry_lock = threading.Lock()


def breaker_for(name: str, *, failures_to_open: int, cool_down: float) -> Breaker:
    """The process's breaker for `name` (one per dependency and address), made once."""
    found = _breakers.get(name)
    if found is not None:
        return found
    with _registry_lock:
        return _breakers.setdefault(
            name, Breaker(name=name, failures_to_open=failures_to_open, cool_down=cool_down)
        )


def all_breakers() -> list[Breaker]:
    """Every breaker this process has made, for probes and metrics."""
    return list(_breakers.values())
