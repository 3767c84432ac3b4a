"""What Identidock counts, in the Prometheus text format (prometheus-client).

Under gunicorn every worker writes its counts to files in PROMETHEUS_MULTIPROC_DIR
(gunicorn.conf.py makes one per server) and the master serves the sum of all of them on
METRICS_PORT, a port of its own that the proxy never routes to. In a single process
(tests, `manage.py`) the counts live in the default registry.

Names follow Prometheus conventions: `identidock_` prefix, `_total` for counters,
seconds for durations.
"""

from __future__ import annotations

import os

# Empty means unset here (compose and the ConfigMap pass it through empty): but
# prometheus-client takes any PROMETHEUS_MULTIPROC_DIR, even "", as multiprocess mode and
# would write its files into the working directory. Decided when it is first imported.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import REGISTRY

REQUESTS = Counter(
    "identidock_http_requests_total",
    "HTTP requests answered, by route and status code.",
    ["route", "status"],
)
CACHE_LOOKUPS = Counter(
    "identidock_cache_lookups_total",
    "Monster cache lookups by tier (process, redis) and result (hit, miss, bypass).",
    ["tier", "result"],
)
RENDERS = Histogram(
    "identidock_renderer_seconds",
    "Time the renderer took for one monster that it drew.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
RENDER_FAILURES = Counter(
    "identidock_renderer_failures_total",
    "Renderer calls that gave no monster, by kind (unavailable, timeout, bad_image, skipped, "
    "busy: over RENDERER_MAX_WAITING).",
    ["kind"],
)
BREAKER_OPEN = Gauge(
    "identidock_breaker_open",
    "1 while a dependency's breaker is open (it is being skipped), else 0.",
    ["dependency"],
    multiprocess_mode="max",
)
BREAKER_OPENINGS = Counter(
    "identidock_breaker_openings_total",
    "Times a dependency's breaker opened.",
    ["dependency"],
)
RATE_LIMITED = Counter(
    "identidock_rate_limited_total",
    "Requests refused with 429, by limit (misses, names, names-global).",
    ["scope"],
)
AUDIT_ROWS = Counter(
    "identidock_audit_rows_total",
    "Audit rows by what became of them: written, queued (database down), replayed "
    "(written from the queue), held (database and Redis down: kept in the process's "
    "memory and retried), logged (held no more: too many, or at exit), overflowed (queued "
    "because the writer held AUDIT_MAX_WAITING_ROWS already).",
    ["outcome"],
)
AUDIT_ROWS_WAITING = Gauge(
    "identidock_audit_rows_waiting",
    "Audit rows of misses held in memory for the next batch (their intents in Redis "
    "stand for them meanwhile).",
    multiprocess_mode="livesum",
)
SINGLE_FLIGHT_WAITS = Counter(
    "identidock_single_flight_waits_total",
    "Misses that waited for another request's render of the same image.",
)
# The readiness checks' details, which the public /readyz does not show.
READINESS_UP = Gauge(
    "identidock_readiness_up",
    "1 when a component (database, cache, renderer) passed the last readiness check, "
    "else 0; over several workers, the lowest.",
    ["component", "backend"],
    multiprocess_mode="livemin",
)
READINESS_CHECK_SECONDS = Gauge(
    "identidock_readiness_check_seconds",
    "How long a component's last readiness check took; over several workers, the longest.",
    ["component"],
    multiprocess_mode="livemax",
)
GENERATIONS = Counter(
    "identidock_generations_total",
    "Monsters generated and recorded, by origin (web, warm, admin).",
    ["origin"],
)


def dependency_kind(breaker_name: str) -> str:
    """A breaker's dependency as a label: its first word (renderer, Redis, audit...)."""
    return breaker_name.split(" ", 1)[0].lower()


def exposition() -> bytes:
    """Everything counted so far, summed over every worker when there are several."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
