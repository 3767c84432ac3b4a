"""Benchmark: what a Redis failover looks like from outside, under a steady load.

Per round: starts a Redis primary, a replica and three sentinels of its own on spare
loopback ports (scripts/failover/topology.py; sentinels call a primary down after
1 s), then Identidock under gunicorn (gunicorn.conf.py, 2 workers x 4 threads, the
built-in renderer) with REDIS_SENTINELS pointing at them and the production defaults
for every Redis timeout and breaker (BREAKER_* and REDIS_*TIMEOUT in the environment
pass through, to see what they change). A few client threads ask for cached monsters
(hits) and new ones continuously, each pausing 5 ms between requests; after
--before seconds the primary is SIGKILLed, and the load goes on for --after seconds
once a sentinel names the new primary. Then one more new monster must answer MISS,
then HIT, and be on the promoted server. Prints, per round: the failover window
(kill -> a sentinel names the new primary), requests and statuses, X-Cache counts,
the BYPASS answers and the span they cover, when new monsters were cached again,
and the breakers' log lines; then the rounds side by side.

Uses a scratch database on BENCH_DATABASE_URL's server (default
postgres://postgres@127.0.0.1:5432/identidock_bench), created, migrated and dropped.
Needs redis-server alone (`redis-server <file> --sentinel` is Sentinel):

    .venv/bin/python bench/failover_bench.py [--rounds 3] [--before 3] [--after 12]
    make failover
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


sys.path.insert(0, str(ROOT))

from bench.results import recorded  # noqa: E402
from bench.server_processes import stop as _stop  # noqa: E402
from renderer import RENDERER_VERSION
from scripts.failover.drill import Fetch, Figures, Load, figures, new_monster_path  # noqa: E402
from scripts.failover.topology import Topology  # noqa: E402
from scripts.stack import databases  # noqa: E402
from scripts.stack.ports import free_port  # noqa: E402

DEFAULT_SERVER_URL = "postgres://postgres@127.0.0.1:5432/identidock_bench"
FAILOVER_TIMEOUT_SECONDS = 30.0
START_TIMEOUT_SECONDS = 30.0
HIT_MONSTERS = 50


@dataclass(frozen=True)
class Round:
    figures: Figures
    after_failover: list[str]  # X-Cache of one new monster, asked twice
    on_promoted_server: bool
    breaker_lines: list[str]


def _environment(database_url: str, topology: Topology, workers: int) -> dict[str, str]:
    # The caller's breaker and Redis timeout settings pass through; the rest is ours.
    passed = {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "REDIS_CONNECT_TIMEOUT", "REDIS_TIMEOUT"}
    environment = {
        key: value
        for key, value in os.environ.items()
        if key in passed or key.startswith("BREAKER_")
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="identidock.settings",
        SECRET_KEY="bench-only-secret-key",  # noqa: S106
        DATABASE_URL=database_url,
        REDIS_SENTINELS=topology.sentinels_setting,
        REDIS_SENTINEL_SERVICE=topology.service,
        # One client address makes every request: the limiter runs, but never refuses.
        RATE_LIMIT_MISSES_PER_MINUTE="1000000",
        RATE_LIMIT_MISS_BURST="1000000",
        GUNICORN_WORKERS=str(workers),
        GUNICORN_THREADS="4",
        GUNICORN_MAX_REQUESTS="0",
        METRICS_PORT="0",  # no metrics server: 9100 may be another server's on this machine
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    return environment


def _start_identidock(environment: dict[str, str], port: int, logs: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
    command += ["--bind", f"127.0.0.1:{port}", "identidock.wsgi"]
    with (logs / "access.log").open("wb") as out, (logs / "error.log").open("wb") as err:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=out, stderr=err)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return process
        except requests.RequestException:
            time.sleep(0.1)
    _stop(process)
    raise SystemExit(f"gunicorn did not start within {START_TIMEOUT_SECONDS:.0f} s ({logs})")


def _fetcher(base_url: str) -> Fetch:
    """GET over HTTP, a keep-alive session per thread; no answer at all is an OSError."""
    sessions = threading.local()

    def fetch(path: str) -> tuple[int, str]:
        if not hasattr(sessions, "session"):
            sessions.session = requests.Session()
        try:
            response = sessions.session.get(base_url + path, timeout=(1, 10))
        except requests.RequestException as exc:
            raise OSError(str(exc)) from exc
        return response.status_code, response.headers.get("X-Cache", "")

    return fetch


def _stored_key(path: str) -> str:
    """The cache key of /monster/<hash>?size=80 under the built-in renderer's art."""
    name_hash = path.split("/")[2].split("?")[0]
    return f"monster:v1:builtin-r{RENDERER_VERSION}:80:{name_hash}"


def run_round(args: argparse.Namespace, server_url: str, directory: Path) -> Round:
    database_url = databases.scratch_database_url(server_url, prefix="identidock_failover")
    databases.create_database(database_url)
    try:
        with Topology(directory, service="identidock") as topology:
            environment = _environment(database_url, topology, args.workers)
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
                cwd=ROOT,
                env=environment,
                check=True,
            )
            port = free_port()
            identidock = _start_identidock(environment, port, directory)
            try:
                return _drill(args, topology, f"http://127.0.0.1:{port}", directory)
            finally:
                _stop(identidock)
    finally:
        databases.drop_database(database_url)


def _drill(args: argparse.Namespace, topology: Topology, base_url: str, logs: Path) -> Round:
    fetch = _fetcher(base_url)
    warm = [new_monster_path() for _ in range(HIT_MONSTERS)]
    for path in warm:
        fetch(path)
    topology.client(topology.primary_port).wait(1, 2000)  # the replica has them all
    old_primary = topology.primary_port
    load = Load(fetch, hit_paths=warm, hit_threads=args.hit_threads, new_threads=args.new_threads)
    load.start()
    try:
        time.sleep(args.before)
        killed_at = topology.kill(old_primary)
        new_primary, switched_at = topology.wait_for_primary_other_than(
            old_primary, FAILOVER_TIMEOUT_SECONDS
        )
        time.sleep(args.after)
    finally:
        answers = load.stop()
    after = new_monster_path()
    after_failover = [fetch(after)[1] for _ in range(2)]
    on_promoted = bool(topology.client(new_primary).exists(_stored_key(after)))
    breaker_lines = [
        # "<time> WARNING monsters.guards.breaker [<request id>] Redis cache ...": the message
        line[line.index("Redis cache") :]
        for line in (logs / "error.log").read_text().splitlines()
        if "monsters.guards.breaker" in line and "Redis cache" in line
    ]
    return Round(
        figures=figures(answers, killed_at=killed_at, switched_at=switched_at),
        after_failover=after_failover,
        on_promoted_server=on_promoted,
        breaker_lines=breaker_lines,
    )


def _print_round(number: int, result: Round) -> None:
    print(f"Round {number}:")
    for line in result.figures.lines():
        print(f"  {line}")
    print(
        f"  after the failover a new monster answered {' then '.join(result.after_failover)}, "
        f"stored on the promoted server: {'yes' if result.on_promoted_server else 'NO'}"
    )
    for line in result.breaker_lines:
        print(f"  log: {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", type=float, default=3.0, help="seconds of load before")
    parser.add_argument("--after", type=float, default=12.0, help="seconds of load after")
    parser.add_argument("--hit-threads", type=int, default=6)
    parser.add_argument("--new-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    server_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER_URL)

    results = []
    for number in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory(prefix="identidock-failover-") as directory:
            results.append(run_round(args, server_url, Path(directory)))
        _print_round(number, results[-1])

    print("Rounds side by side (seconds after the kill):")
    print("  round  failover  requests  5xx  BYPASS (hits)  BYPASS from..to  cached again")
    for number, result in enumerate(results, 1):
        seen = result.figures
        span = (
            f"{seen.first_bypass:+.2f}..{seen.last_bypass:+.2f}"
            if seen.first_bypass is not None and seen.last_bypass is not None
            else "none"
        )
        again = (
            f"{seen.first_miss_after_failover:+.2f}"
            if seen.first_miss_after_failover is not None
            else "never"
        )
        print(
            f"  {number:>5}  {seen.failover_seconds:>8.2f}  {seen.requests:>8}  "
            f"{seen.server_errors:>3}  {seen.bypass:>6} ({seen.bypass_hits:>3})  "
            f"{span:>15}  {again:>12}"
        )
    healthy = all(
        r.figures.server_errors == 0
        and r.after_failover == ["MISS", "HIT"]
        and r.on_promoted_server
        for r in results
    )
    return 0 if healthy else 1


if __name__ == "__main__":
    with recorded("failover_bench"):
        status = main()
    sys.exit(status)
