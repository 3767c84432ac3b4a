"""Profile: where Identidock's own CPU goes in each kind of request, without gunicorn.

The serving benches (hit, page, miss) measure the whole server; this calls Identidock's
WSGI application (`identidock.wsgi.application`, every layer) in this process, one request
at a time, so that the figures are the app's alone: CPU microseconds per request (process
time, so waiting on Redis, PostgreSQL or the renderer is not counted), then cProfile's
functions with the most CPU of their own. Against the local PostgreSQL and Redis (the
serving benches' database and Redis database, which it creates, migrates and FLUSHES:
bench/servers.py) and the renderer under gunicorn on a free port, as in compose.

    .venv/bin/python bench/profile_requests.py [--requests 5000] [--top 15]
        [--scenario hit --scenario page_get ...]

Scenarios: hit (the in-process tier), hit_redis (the tier off), not_modified,
avatar_hit (`/avatar/<md5>?s=80`, as Gravatar clients ask), django_floor (GET /healthz:
Django's request cycle around a view that does nothing), page_get, page_post, miss (a
new hash each time: the renderer, Redis and an audit row).
With the miss, it also measures the renderer request alone: our HTTP client's CPU here
against the renderer's in its gunicorn.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import os
import pstats
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import servers  # noqa: E402 - needs ROOT on the path
from bench.results import recorded  # noqa: E402

HASHES = 200
SCENARIOS = (
    "hit",
    "hit_redis",
    "not_modified",
    "avatar_hit",
    "django_floor",
    "page_get",
    "page_post",
    "miss",
)


@contextmanager
def renderer(directory: Path) -> Iterator[servers.Server]:
    server = servers.start_server(
        "renderer", servers.RENDERER_APP, servers.base_environment(), directory, "/healthz"
    )
    try:
        yield server
    finally:
        server.stop()


def environ_for(path: str, query: str = "", method: str = "GET", **extra: Any) -> dict[str, Any]:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": servers.HOST,
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": servers.HOST,
        "REMOTE_ADDR": servers.HOST,
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
    }
    environ.update(extra)
    return environ


def requests_of(scenario: str) -> Callable[[int], dict[str, Any]]:
    """The n-th request of a scenario."""
    from django.utils.crypto import get_random_string

    from monsters.images import identity, keys

    hashes = [identity.hash_name(f"profile {n}") for n in range(HASHES)]
    emails = [f"profile-{n}@example.com".encode() for n in range(HASHES)]
    avatars = [hashlib.md5(email).hexdigest() for email in emails]  # noqa: S324 - Gravatar's id
    query = f"size=80&v={keys.current_revision()}"
    etags = [keys.locate(name_hash=name_hash, size=80).etag for name_hash in hashes]
    token = get_random_string(32)  # an unmasked CSRF secret is a valid token too
    miss_prefix = secrets.token_hex(24)

    def post(n: int) -> dict[str, Any]:
        body = f"name=Name+{n % HASHES}&csrfmiddlewaretoken={token}".encode()
        environ = environ_for(
            "/",
            method="POST",
            CONTENT_TYPE="application/x-www-form-urlencoded",
            CONTENT_LENGTH=str(len(body)),
            HTTP_COOKIE=f"csrftoken={token}",
        )
        environ["wsgi.input"] = io.BytesIO(body)
        return environ

    return {
        "hit": lambda n: environ_for(f"/monster/{hashes[n % HASHES]}", query),
        "hit_redis": lambda n: environ_for(f"/monster/{hashes[n % HASHES]}", query),
        "not_modified": lambda n: environ_for(
            f"/monster/{hashes[n % HASHES]}", query, HTTP_IF_NONE_MATCH=etags[n % HASHES]
        ),
        "avatar_hit": lambda n: environ_for(f"/avatar/{avatars[n % HASHES]}", "s=80"),
        "django_floor": lambda n: environ_for("/healthz"),
        "page_get": lambda n: environ_for("/"),
        "page_post": post,
        "miss": lambda n: environ_for(f"/monster/{miss_prefix}{n:016x}", query),
    }[scenario]


def run(application: Any, request: Callable[[int], dict[str, Any]], count: int, start: int) -> str:
    status = ""

    def start_response(answer: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        nonlocal status
        status = answer

    for n in range(start, start + count):
        body = application(request(n), start_response)
        b"".join(body)
        if close := getattr(body, "close", None):
            close()  # as the server does: Django's request_finished handlers run here
        if not status.startswith(("200", "304")):
            raise SystemExit(f"request {n} answered {status}")
    return status


def profile(scenario: str, count: int, top: int, sort: str = "tottime") -> None:
    from django.test import override_settings

    from identidock.wsgi import application

    tier_off = override_settings(MONSTER_PROCESS_CACHE_MB=0)
    if scenario == "hit_redis":
        tier_off.enable()
    try:
        request = requests_of(scenario)
        run(application, request, HASHES * 2, start=0)  # warm: cached, connected, loaded
        started = time.process_time()
        run(application, request, count, start=HASHES * 2)
        cpu_us = (time.process_time() - started) / count * 1e6
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        run(application, request, count, start=HASHES * 2 + count)
        profiler.disable()
    finally:
        if scenario == "hit_redis":
            tier_off.disable()
    print(f"\n=== {scenario}: {cpu_us:,.1f} us of CPU per request (without the profiler)")
    report = io.StringIO()
    stats = pstats.Stats(profiler, stream=report)
    stats.strip_dirs().sort_stats(sort).print_stats(top)
    print(report.getvalue().split("ncalls", 1)[-1].rstrip().join(["   ncalls", ""]))


def renderer_client(server: servers.Server, count: int) -> None:
    """A miss's request to the renderer on its own: the CPU of our HTTP client (this
    process) against the renderer's (its gunicorn), for the same new ids. However little
    else a miss did, it would cost both: their ratio bounds the miss's throughput
    against the renderer's own."""
    from monsters.guards import sources

    source = sources.get_source()
    prefix = secrets.token_hex(24)

    def fetch_all(start: int) -> None:
        for n in range(start, start + count):
            sources.fetch_image(source, f"{prefix}{n:016x}", 80)

    fetch_all(0)  # warm: connected, loaded
    client_before, server_before = time.process_time(), server.cpu_seconds()
    fetch_all(count)
    client_us = (time.process_time() - client_before) / count * 1e6
    server_us = (server.cpu_seconds() - server_before) / count * 1e6
    print(
        f"\n=== renderer client: {client_us:,.1f} us of CPU per fetch here (urllib3), "
        f"{server_us:,.1f} us in the renderer's gunicorn; a miss that did nothing else "
        f"would reach at most {server_us / (client_us + server_us):.2f} x the renderer's "
        "own throughput"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--scenario", action="append", choices=SCENARIOS)
    parser.add_argument(
        "--sort", default="tottime", choices=("tottime", "cumulative"), help="profile order"
    )
    arguments = parser.parse_args()
    database_url, redis_url = servers.storage_urls()
    with tempfile.TemporaryDirectory() as directory, renderer(Path(directory)) as server:
        environment = servers.app_environment(database_url, redis_url, server.url)
        environment.update(  # (no per-client limits: it has them off, for one client)
            PROMETHEUS_MULTIPROC_DIR=directory,
            METRICS_PORT="0",
            LOG_LEVEL="WARNING",
        )
        servers.prepare_storage(environment)
        os.environ.update(environment)
        for scenario in arguments.scenario or SCENARIOS:
            profile(scenario, arguments.requests, arguments.top, arguments.sort)
        if not arguments.scenario or "miss" in arguments.scenario:
            renderer_client(server, arguments.requests)


if __name__ == "__main__":
    with recorded("profile_requests"):
        main()
