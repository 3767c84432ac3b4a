"""Benchmark: mixed traffic through the proxy while Redis, the renderer or PostgreSQL fail.

    .venv/bin/python bench/fault_bench.py [--seconds 60] [--connections 64] [--quick]
                                          [--runs baseline,redis,renderer,postgres,...]

Starts make stack's topology (nginx in front of gunicorn, 2 workers x 4 threads, the
renderer under gunicorn) on servers of its own: a redis-server on a spare port, a
scratch database on the local PostgreSQL reached through a TCP relay of its own
(bench/cuttable_tcp.py), so the machine's shared Redis and PostgreSQL are never
stopped. Warms 1,000 monsters, then runs --seconds of traffic per run from
--connections kept-alive connections (a Python client: one thread and one
requests.Session per connection, so its own CPU is part of the latency it measures):
90 % cached monsters (the warmed 1,000), 9 % new monsters (misses), 1 % form posts with
the CSRF cookie and token. It is one client, so the per-client rate limits are set out
of the way (bench/one_client.py), as the other benches do. Four runs,
the fault a third of the way in:

    baseline   nothing fails
    redis      the bench's redis-server stopped (SIGTERM) for 5 s, then started again, empty
    renderer   the renderer's process group SIGKILLed, started again 5 s later
    postgres   the relay to PostgreSQL cut for 10 s (connections reset, new ones refused)
    postgres-frozen  the relay to PostgreSQL frozen for 10 s (sockets open, nothing passes)
    redis-postgres-frozen  the redis-server stopped and the relay frozen, both for 10 s
    renderer-frozen  the renderer's process group SIGSTOPped for 10 s, then SIGCONT

Each run prints requests, status counts (by request kind, and by when the answer came:
before, during or after the fault), p50 and p99, how many audit rows wait in the
durable queue when the traffic stops and whether the web app writes them by itself
within 15 s, and the audit check: after `manage.py flush_audit`, the audit rows written
during the run against the images generated (200 answers with X-Cache MISS or BYPASS;
a BYPASS is drawn and recorded anew each time, so one image can count more than once).
Target: no 5xx but 503/504 for misses while the renderer is away; as many audit rows as
generated images in every run. --quick: 20 s runs, 200 monsters, 16 connections.
GUNICORN_* variables in the environment reach the web app. The figures go to
bench/results/<date>-fault_bench.md; raw answers and every process's log to
var/bench/fault-*/.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

# `python bench/fault_bench.py` puts bench/ on the path, not the checkout.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cuttable_tcp import CuttableRelay  # noqa: E402
from bench.fault_report import (  # noqa: E402
    Fault,
    audit_rows_after,
    counts,
    marker_once_written,
    queue_drain,
    report,
    write_answers,
)
from bench.fault_traffic import Answer, Target, load, warm  # noqa: E402
from bench.one_client import NO_RATE_LIMITS  # noqa: E402
from bench.own_stack import (  # noqa: E402
    WORKER_REPLACED,
    RedisServer,
    bench_stack,
    count_in_log,
    flush_audit,
    log_offset,
    revision_of,
    scratch_database,
)
from bench.results import run_directory, text_report, write_result  # noqa: E402
from scripts.stack.ports import free_port  # noqa: E402
from scripts.stack.topology import Stack  # noqa: E402

BENCH = "fault_bench"
REDIS_DOWN_SECONDS = 5.0
RENDERER_DOWN_SECONDS = 5.0
POSTGRES_CUT_SECONDS = 10.0
FROZEN_SECONDS = 10.0
RUNS = (
    "baseline",
    "redis",
    "renderer",
    "postgres",
    "postgres-frozen",
    "redis-postgres-frozen",
    "renderer-frozen",
)


@dataclass
class Saboteur:
    """What the faults act on: the stack, the bench's redis-server, the relay to PostgreSQL."""

    stack: Stack
    redis_server: RedisServer
    relay: CuttableRelay


def _inject(saboteur: Saboteur, fault: Fault, *, began: float, at: float) -> threading.Thread:
    """Start the fault `at` seconds after `began` (monotonic), in a thread; `fault` gets
    its times, in seconds since `began`."""
    name, stack, redis_server, relay = (
        fault.name,
        saboteur.stack,
        saboteur.redis_server,
        saboteur.relay,
    )

    def inject() -> None:
        if name == "baseline":
            return
        time.sleep(max(0.0, began + at - time.monotonic()))
        fault.started = time.monotonic() - began
        if name == "redis":
            redis_server.stop()
            time.sleep(REDIS_DOWN_SECONDS)
            redis_server.start()
        elif name == "renderer":
            stack.kill("dnmonster")
            time.sleep(RENDERER_DOWN_SECONDS)
            stack.restart("dnmonster")
        elif name == "postgres":
            relay.cut()
            time.sleep(POSTGRES_CUT_SECONDS)
            relay.restore()
        elif name in ("postgres-frozen", "redis-postgres-frozen"):
            if name.startswith("redis"):
                redis_server.stop()
            relay.freeze()
            time.sleep(FROZEN_SECONDS)
            relay.thaw()
            if name.startswith("redis"):
                redis_server.start()
        elif name == "renderer-frozen":
            renderer = stack.processes["dnmonster"].pid
            os.killpg(renderer, signal.SIGSTOP)
            time.sleep(FROZEN_SECONDS)
            os.killpg(renderer, signal.SIGCONT)
        fault.lifted = time.monotonic() - began

    thread = threading.Thread(target=inject, name=f"fault-{name}", daemon=True)
    thread.start()
    return thread


def _through(database_url: str, port: int) -> str:
    """`database_url` with the relay's address in place of the server's."""
    parts = urlsplit(database_url)
    user, at, _ = parts.netloc.rpartition("@")
    return parts._replace(netloc=f"{user}{at}127.0.0.1:{port}").geturl()


def one_run(
    run: str, saboteur: Saboteur, target: Target, args: argparse.Namespace, database_url: str
) -> tuple[list[str], bool, list[Answer]]:
    """Warm, then --seconds of traffic with the fault `run` a third of the way in; its
    report's lines, whether it met the target, and every answer."""
    stack, logs = saboteur.stack, saboteur.stack.log_dir
    assert logs is not None, "the figures come from the processes' logs"
    warmed = warm(target)
    marker = marker_once_written(database_url)
    fault = Fault(run)
    gunicorn_log = logs / "identidock.stderr.log"
    log_start = log_offset(gunicorn_log)
    began = time.monotonic()
    injector = _inject(saboteur, fault, began=began, at=args.seconds / 3)
    answers = load(target, args.connections, began, args.seconds)
    injector.join(60)
    replaced = count_in_log(gunicorn_log, WORKER_REPLACED, after=log_start)
    queued = queue_drain(saboteur.redis_server)
    flushed = flush_audit(stack, logs / "flush_audit.log")
    _, rows = audit_rows_after(database_url, marker)
    lines, ok = report(run, answers, fault, args.seconds, rows, flushed)
    lines.insert(-1, f"audit queue after the traffic: {queued}")
    lines.insert(3, f"gunicorn replaced {replaced} workers (GUNICORN_MAX_REQUESTS)")
    lines.insert(1, "warm-up: " + counts(warmed))
    return lines, ok, answers


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--hashes", type=int, default=1000, help="monsters warmed for the hits")
    parser.add_argument("--runs", default=",".join(RUNS))
    parser.add_argument(
        "--quick", action="store_true", help="20 s runs, 200 hashes, 16 connections"
    )
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.hashes, args.connections = 20.0, 200, 16
    runs = [run.strip() for run in args.runs.split(",") if run.strip()]
    if unknown := set(runs) - set(RUNS):
        parser.error(f"unknown runs {sorted(unknown)}; choose from {', '.join(RUNS)}")
    directory = run_directory("fault")
    logs = directory / "logs"
    token = secrets.token_hex(8)
    warmed = [
        hashlib.sha256(f"fault-bench-{token}-{n}".encode()).hexdigest() for n in range(args.hashes)
    ]

    redis_server = RedisServer(free_port(), logs / "redis.log")
    redis_server.start()
    summary: list[str] = [
        f"fault bench: {args.seconds:.0f} s per run, {args.connections} connections, "
        f"{args.hashes:,} warmed monsters; Python client (threads + requests sessions)"
    ]
    passed = True
    try:
        with scratch_database("identidock_fault_bench") as database_url:
            relay = CuttableRelay(urlsplit(database_url).port or 5432, free_port())
            relay.start()
            try:
                with bench_stack(
                    database_url=_through(database_url, relay.port),
                    redis_url=redis_server.url,
                    log_dir=logs,
                    replicas=1,
                    **NO_RATE_LIMITS,  # one client: its misses and posts are the load
                ) as stack:
                    target = Target(stack.url, revision_of(stack), warmed)
                    saboteur = Saboteur(stack, redis_server, relay)
                    print(summary[0], f"\nproxy {stack.url}, raw output in {directory}", flush=True)
                    for run in runs:
                        lines, ok, answers = one_run(run, saboteur, target, args, database_url)
                        passed = passed and ok
                        summary.extend(lines)
                        print("\n".join(lines), flush=True)
                        write_answers(directory / f"{run}.csv", answers)
            finally:
                relay.close()
    finally:
        redis_server.stop()
    verdict = "met" if passed else "NOT met"
    summary.append(f"target (no unexpected 5xx, audit rows = generated images): {verdict}")
    print(summary[-1])
    (directory / "summary.txt").write_text("\n".join(summary) + "\n")
    print(f"result: {write_result(BENCH, text_report(BENCH, summary))}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
