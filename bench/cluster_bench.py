"""Benchmark: make cluster (nginx in front of three identidock replicas) under new hashes.

    .venv/bin/python bench/cluster_bench.py [--seconds 30] [--hashes 2000]
                                            [--connections 32] [--threads 2]
                                            [--repeats 4] [--kill [--kill-after S]]

Starts make cluster's topology (nginx, three identidock gunicorns of 2 workers x 4
threads, one renderer under gunicorn) on servers of its own: a redis-server on a spare
port and a scratch database on the local PostgreSQL (bench/own_stack.py). wrk is one
client (127.0.0.1, which nginx passes on as X-Forwarded-For), so the per-client rate
limits are set out of the way (bench/one_client.py), as the serving benches do.

wrk then runs --seconds over --hashes new monster URLs: its Lua script hands the same
path to --repeats connections in a row, and every wrk thread walks the same sequence, so
each new hash is asked for by threads x repeats connections at about the same time,
through nginx, which spreads them over the three replicas; once through the list it
starts again (cache hits). With --kill, the second replica's process group is SIGKILLed
(`docker kill`) a third of the way in (or --kill-after seconds) and stays dead.

It prints: requests, statuses (nginx's access log, which also names the replica that
answered and its X-Cache), wrk's socket errors, p50/p99; renders per (hash, size) (the
renderer's access log: every GET /monster/<hash>?size=N it got); audit rows after
`manage.py flush_audit`, duplicates (a (hash, size) with more than one row) and lost
rows (a (hash, size) answered 200 without a row); and per replica the answers it gave,
its hits (X-Cache HIT) and misses. Targets: every (hash, size) rendered once and audited
once, no 5xx, hits from every replica; with --kill, 5xx only for requests in flight on
the killed replica, and no lost rows. The figures go to
bench/results/<date>-cluster_bench.md (<date>-cluster_bench-kill.md with --kill), raw
output and every log to var/bench/cluster-*/.
"""

from __future__ import annotations

import argparse
import hashlib
import secrets
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg2

# `python bench/cluster_bench.py` puts bench/ on the path, not the checkout.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import wrk as wrk_runs  # noqa: E402
from bench.cluster_figures import Figures, proxy_answers, renders  # noqa: E402
from bench.one_client import NO_RATE_LIMITS  # noqa: E402
from bench.own_stack import (  # noqa: E402
    bench_stack,
    flush_audit,
    log_offset,
    own_redis,
    revision_of,
    scratch_database,
)
from bench.results import run_directory, text_report, write_result  # noqa: E402
from scripts.stack.topology import Stack  # noqa: E402

SIZE = 80
REPLICAS = 3
KILLED = "identidock-2"
LUA_SAME_PATH_IN_A_ROW = """
-- cluster_bench: `repeats` requests in a row get the same image, on different
-- connections; every thread walks the same sequence, so each hash is asked for by
-- threads x repeats connections at about the same time. Then round again: hits.
-- Each request's URL is its own (`&request=<thread>-<n>`, which the app ignores), so
-- the proxy's image cache keeps none for another request and the replicas answer
-- every one: this bench measures them, behind the shipped proxy.
local counter = 0
function request()
  local index = math.floor(counter / repeats) % #paths + 1
  counter = counter + 1
  local thread = thread_number or 0
  return wrk.format("GET", paths[index] .. "&request=" .. thread .. "-" .. counter)
end
"""


def new_hashes(count: int) -> list[str]:
    token = secrets.token_hex(8)
    return [hashlib.sha256(f"cluster-bench-{token}-{n}".encode()).hexdigest() for n in range(count)]


def script(paths: list[str], repeats: int) -> str:
    return (
        f"paths = {wrk_runs.lua(paths)}\nrepeats = {repeats}\n"
        + LUA_SAME_PATH_IN_A_ROW
        + wrk_runs.LUA_DONE
    )


def cluster(*, database_url: str, redis_url: str, log_dir: Path, **variables: str) -> Stack:
    return bench_stack(
        database_url=database_url,
        redis_url=redis_url,
        log_dir=log_dir,
        replicas=REPLICAS,
        **{**NO_RATE_LIMITS, **variables},
    )


def _audit_rows(database_url: str, wanted: set[str]) -> Counter[tuple[str, int]]:
    with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT name_hash, size, count(*) FROM monsters_generation GROUP BY 1, 2")
        rows = Counter({(name_hash, size): count for name_hash, size, count in cursor.fetchall()})
    connection.close()
    return Counter({key: count for key, count in rows.items() if key[0] in wanted})


def _threads_per_replica(stack: Stack) -> int:
    """gunicorn workers x threads of one replica: the requests it can hold at once."""
    environment = stack.environment("identidock")
    workers = int(environment.get("GUNICORN_WORKERS") or 0) or 2  # bench_stack's
    return workers * int(environment.get("GUNICORN_THREADS") or 4)  # gunicorn.conf.py's


def run_load(
    stack: Stack,
    *,
    database_url: str,
    hashes: list[str],
    revision: str,
    seconds: int,
    connections: int,
    threads: int,
    repeats: int,
    raw: Path,
    kill_after: float | None = None,
) -> Figures:
    """One bounded wrk run over `hashes` through the proxy, optionally SIGKILLing
    KILLED `kill_after` seconds in; then flush_audit and count everything."""
    assert stack.log_dir is not None, "the figures come from the processes' logs"
    proxy_log = stack.log_dir / "proxy.stdout.log"
    renderer_log = stack.log_dir / "dnmonster.stdout.log"
    proxy_start, renderer_start = log_offset(proxy_log), log_offset(renderer_log)
    paths = [f"/monster/{name_hash}?size={SIZE}&v={revision}" for name_hash in hashes]
    replicas = {
        f"127.0.0.1:{port}": name
        for name, port in zip(stack.web_names, stack.web_ports, strict=True)
    }
    killed_at = 0.0
    began = time.monotonic()

    def kill() -> None:
        nonlocal killed_at
        time.sleep(max(0.0, began + (kill_after or 0) - time.monotonic()))
        stack.kill(KILLED)
        killed_at = time.monotonic() - began

    killer = threading.Thread(target=kill, daemon=True) if kill_after is not None else None
    if killer is not None:
        killer.start()
    wrk = wrk_runs.run_wrk(
        stack.url,
        script(paths, repeats),
        seconds=seconds,
        connections=connections,
        threads=threads,
        raw=raw,
    )
    if killer is not None:
        killer.join(30)
    time.sleep(1)  # nginx and gunicorn write their last log lines
    flushed = flush_audit(stack, raw.with_suffix(".flush_audit.log"))
    wanted = set(hashes)
    return Figures(
        seconds=seconds,
        wrk=wrk,
        answers=[
            answer for answer in proxy_answers(proxy_log, proxy_start) if answer.name_hash in wanted
        ],
        renders=renders(renderer_log, renderer_start, wanted),
        rows=_audit_rows(database_url, wanted),
        replicas=replicas,
        killed=KILLED if kill_after is not None else "",
        killed_at=killed_at,
        killed_threads=_threads_per_replica(stack) if kill_after is not None else 0,
        flushed=flushed,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--hashes", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=4, help="connections in a row per hash")
    parser.add_argument("--kill", action="store_true", help=f"SIGKILL {KILLED} a third in")
    parser.add_argument(
        "--kill-after", type=float, help="seconds into the run for --kill (default: a third)"
    )
    args = parser.parse_args()
    directory = run_directory("cluster")
    logs = directory / "logs"
    with (
        own_redis(logs) as redis_server,
        scratch_database("identidock_cluster_bench") as database_url,
        cluster(database_url=database_url, redis_url=redis_server.url, log_dir=logs) as stack,
    ):
        revision = revision_of(stack)
        print(f"cluster: proxy {stack.url}, replicas {stack.web_ports}; raw output in {directory}")
        figures = run_load(
            stack,
            database_url=database_url,
            hashes=new_hashes(args.hashes),
            revision=revision,
            seconds=args.seconds,
            connections=args.connections,
            threads=args.threads,
            repeats=args.repeats,
            raw=directory / "wrk.txt",
            kill_after=(args.kill_after or args.seconds / 3) if args.kill else None,
        )
    title = (
        f"cluster bench: {REPLICAS} replicas, {args.hashes:,} new hashes, wrk -t{args.threads} "
        f"-c{args.connections} {args.seconds} s, {args.repeats} connections in a row per hash"
        + (f", {KILLED} SIGKILLed" if args.kill else "")
    )
    lines = figures.lines(title)
    failures = figures.failures()
    lines.append("targets: " + ("met" if not failures else "NOT met: " + "; ".join(failures)))
    print("\n".join(lines))
    (directory / "summary.txt").write_text("\n".join(lines) + "\n")
    name = "cluster_bench-kill" if args.kill else "cluster_bench"
    result = write_result(name, text_report(name, lines))
    print(f"result: {result}")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
