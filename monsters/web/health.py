"""Liveness and readiness probes: `/healthz` and `/readyz`.

`/healthz` says the process answers, from memory, and touches nothing else. `/readyz`
checks what a request needs, each with a short timeout: the audit database (`SELECT 1`
on this thread's own, reused connection), the monster cache (Redis `PING`) and the
renderer (one tiny monster). It is cheap however often it is called: the verdict is
kept for READINESS_TTL seconds (a setting) per process, one thread at a time checks, and a check
that hangs leaves the others answering from the last verdict (or "checking", 503, once
that is older than READINESS_STALE) instead of piling up behind it. No writes; 200 when
every component is up, 503 otherwise.

The world gets the verdict alone ("ready" or "not ready"): which database, cache and
renderer stand behind the site, and how fast each answers, would tell an attacker what
to aim at and when it hurts. The details go where only operators look: each verdict sets
the `identidock_readiness_*` gauges on the metrics port, and a signed-in member of staff
gets the components as JSON from `/readyz?details`. The checks are plain functions; the
views only shape their answers.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db import Error as DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from monsters.guards import cache, sources
from monsters.metrics import READINESS_CHECK_SECONDS, READINESS_UP

logger = logging.getLogger(__name__)

# A verdict older than this (a check hangs) is not served any more.
READINESS_STALE = 10.0
RENDERER_CONNECT_TIMEOUT_SECONDS = 0.5
RENDERER_READ_TIMEOUT_SECONDS = 1.0
# The smallest monster the dnmonster API draws: the cheapest proof the renderer works.
PROBE_IDENTIFIER = "readyz"
PROBE_SIZE = 8
PLAIN_TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Check:
    """One component's state: up or down, what backs it, how long the check took."""

    up: bool
    backend: str
    ms: float
    error: str = ""

    def as_json(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "status": "up" if self.up else "down",
            "backend": self.backend,
            "ms": self.ms,
        }
        if self.error:
            answer["error"] = self.error
        return answer


def _timed(
    component: str,
    backend: str,
    probe: Callable[[], object],
    failures: tuple[type[Exception], ...],
) -> Check:
    started = time.perf_counter()
    try:
        probe()
    except failures as exc:
        ms = round((time.perf_counter() - started) * 1000, 1)
        # The details (hosts, ports) go to the log; the probe answers with the kind only.
        logger.warning("Readiness: %s (%s) is down after %.1f ms: %s", component, backend, ms, exc)
        return Check(up=False, backend=backend, ms=ms, error=type(exc).__name__)
    return Check(up=True, backend=backend, ms=round((time.perf_counter() - started) * 1000, 1))


def _select_one(alias: str) -> None:
    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        connection.close()  # the next check reconnects rather than reuse a broken one
        raise


def check_database(alias: str = DEFAULT_DB_ALIAS) -> Check:
    """`SELECT 1` on this thread's connection to the audit database (reused between
    checks; its connect and statement timeouts come from the settings)."""
    return _timed(
        "database", connections[alias].vendor, lambda: _select_one(alias), (DatabaseError,)
    )


def check_cache() -> Check:
    """Redis `PING` through the monster cache's own client; local memory is always up."""
    return _timed("cache", cache.backend_name(), cache.ping, (redis.RedisError,))


def check_renderer() -> Check:
    """One tiny monster from the configured source, checked as the service checks every
    image, with timeouts shorter than a request's."""
    source = sources.get_source()
    if isinstance(source, sources.DnmonsterSource):
        source = dataclasses.replace(
            source,
            connect_timeout=min(source.connect_timeout, RENDERER_CONNECT_TIMEOUT_SECONDS),
            read_timeout=min(source.read_timeout, RENDERER_READ_TIMEOUT_SECONDS),
        )
    return _timed(
        "renderer",
        source.name,
        lambda: sources.check_png(source.fetch(PROBE_IDENTIFIER, PROBE_SIZE)),
        (sources.SourceError,),
    )


def readiness() -> dict[str, Check]:
    checks = {
        "database": check_database(),
        "cache": check_cache(),
        "renderer": check_renderer(),
    }
    for component, check in checks.items():
        # On the metrics port, where the public /readyz no longer shows them.
        READINESS_UP.labels(component, check.backend).set(1 if check.up else 0)
        READINESS_CHECK_SECONDS.labels(component).set(check.ms / 1000)
    return checks


@dataclass(frozen=True)
class Verdict:
    checks: dict[str, Check]
    at: float  # time.monotonic() when it was made

    @property
    def ready(self) -> bool:
        return all(check.up for check in self.checks.values())


_verdict: Verdict | None = None
_checking = threading.Lock()


def current_verdict() -> Verdict | None:
    """The readiness of this process's dependencies, made at most every READINESS_TTL
    seconds by one thread; None while a first check is still under way, or when the
    last verdict is older than READINESS_STALE because a check hangs."""
    global _verdict
    now = time.monotonic()
    verdict = _verdict
    if verdict is not None and now - verdict.at < settings.READINESS_TTL:
        return verdict
    if _checking.acquire(blocking=False):
        try:
            _verdict = verdict = Verdict(checks=readiness(), at=time.monotonic())
        finally:
            _checking.release()
        return verdict
    if verdict is not None and now - verdict.at < READINESS_STALE:
        return verdict
    return None


@require_safe
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. Never touches the database, cache or renderer."""
    return HttpResponse("ok\n", content_type=PLAIN_TEXT)


@require_safe
@never_cache
def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: 200 "ready" when every component is up, 503 "not ready" otherwise (or
    while the first check is under way). `?details` adds the components for staff."""
    verdict = current_verdict()
    ready = verdict is not None and verdict.ready
    status = HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE
    # Only a request that asks reads the session: a probe never touches the database
    # for it, and an anonymous ?details is answered like any probe.
    if "details" in request.GET and _is_staff(request):
        return JsonResponse(details(verdict), status=status)
    return HttpResponse(
        "ready\n" if ready else "not ready\n", content_type=PLAIN_TEXT, status=status
    )


def _is_staff(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff)


def details(verdict: Verdict | None) -> dict[str, Any]:
    if verdict is None:
        return {"status": "checking"}
    return {
        "status": "ready" if verdict.ready else "not ready",
        "components": {name: check.as_json() for name, check in verdict.checks.items()},
    }
