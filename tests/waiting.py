"""Waiting for something to happen, instead of sleeping and hoping it has."""

from __future__ import annotations

import time
from collections.abc import Callable

POLL_SECONDS = 0.02


def eventually(condition: Callable[[], object], timeout: float = 15.0) -> bool:
    """Whether `condition()` came true within `timeout` seconds, asked every
    POLL_SECONDS; `assert eventually(...)` in a test. The timeout is for a busy machine,
    not the time the thing takes: it returns as soon as the condition holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_SECONDS)  # a poll's pause, not a wait for the event itself
    return True


def cooled_down(address: str) -> bool:
    """Whether every breaker of this process that guards `address` (a URL, as the
    breaker's name gives it) lets a call through now: closed, or its cool-down over."""
    from monsters.guards import breaker  # the app's, once Django is set up

    guarding = [b for b in breaker.all_breakers() if address in b.name.split()]
    assert guarding, f"no breaker guards {address}"
    return all(b.retry_after() == 0 for b in guarding)
