"""Liveness and readiness probes: `/healthz` and `/readyz`.

`/healthz` says the process answers, and touches nothing else. `/readyz` checks what a
request needs, each with a short timeout: the audit database (`SELECT 1`), the monster
cache (Redis `PING`) and the renderer (one tiny monster). No auth, no writes; 200 when
every component is up, 503 otherwise, with each component's status and milliseconds.
The checks are plain functions; the two views only shape their answers.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import redis
from django.db import DEFAULT_DB_ALIAS, connections
from django.db import Error as DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import load_backend
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from . import cache, sources

logger = logging.getLogger(__name__)

# libpq counts whole seconds and treats anything below 2 as 2.
DATABASE_CONNECT_TIMEOUT_SECONDS = 2
RENDERER_CONNECT_TIMEOUT_SECONDS = 0.5
RENDERER_READ_TIMEOUT_SECONDS = 1.0
# The smallest monster the dnmonster API draws: the cheapest proof the renderer works.
PROBE_IDENTIFIER = "readyz"
PROBE_SIZE = 8


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


def _probe_connection(alias: str) -> BaseDatabaseWrapper:
    """A connection of its own, with a short connect timeout.

    Its own, so a probe never disturbs a request's connection or transaction, and so
    it proves that a new connection can be made (the server is up and not full).
    """
    settings_dict = dict(connections[alias].settings_dict)
    options = dict(settings_dict.get("OPTIONS") or {})
    options.pop("pool", None)  # one connection, not a pool per probe
    if connections[alias].vendor == "postgresql":
        configured = options.get("connect_timeout")
        options["connect_timeout"] = min(
            int(configured or DATABASE_CONNECT_TIMEOUT_SECONDS), DATABASE_CONNECT_TIMEOUT_SECONDS
        )
    settings_dict["OPTIONS"] = options
    return load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, alias)


def _select_one(alias: str) -> None:
    connection = _probe_connection(alias)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()


def check_database(alias: str = DEFAULT_DB_ALIAS) -> Check:
    """`SELECT 1` on a fresh connection to the audit database."""
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
    return {
        "database": check_database(),
        "cache": check_cache(),
        "renderer": check_renderer(),
    }


@require_safe
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. Never touches the database, cache or renderer."""
    return HttpResponse("ok\n", content_type="text/plain; charset=utf-8")


@require_safe
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when every component is up, 503 otherwise."""
    checks = readiness()
    ready = all(check.up for check in checks.values())
    body = {
        "status": "ready" if ready else "not ready",
        "components": {name: check.as_json() for name, check in checks.items()},
    }
    status = HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE
    return JsonResponse(body, status=status)
