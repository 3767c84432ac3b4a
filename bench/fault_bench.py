"""Benchmark: mixed traffic through the proxy while Redis, the renderer or PostgreSQL fail.

    .venv/bin/python bench/fault_bench.py [--seconds 60] [--connections 64] [--quick]
                                          [--runs baseline,redis,renderer,postgres]

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

Each run prints requests, status counts (by request kind, and by when the answer came:
before, during or after the fault), p50 and p99, how many audit rows wait in the
durable queue when the traffic stops and whether the web app writes them by itself
within 15 s, and the audit check: after `manage.py flush_audit`, the audit rows written
during the run against the images generated (200 answers with X-Cache MISS or BYPASS;
a BYPASS is drawn and recorded anew each time, so one image can count more than once).
Target: no 5xx but 503/504 for misses while the renderer is away; as many audit rows as
generated images in every run. --quick: 20 s runs, 200 monsters, 16 connections.
GUNICORN_* variables in the environment reach the web app. Raw answers and every
process's log go to var/bench/fault-*/.
"""

from __future__ import annotations

import argparse
import csv
import functools
import hashlib
import random
import re
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import redis
import requests

# `python bench/fault_bench.py` puts bench/ on the path, not the checkout.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cuttable_tcp import CuttableRelay  # noqa: E402
from bench.one_client import NO_RATE_LIMITS  # noqa: E402
from bench.own_stack import (  # noqa: E402
    WORKER_REPLACED,
    RedisServer,
    bench_stack,
    count_in_log,
    log_offset,
    scratch_database,
)
from bench.results import run_directory  # noqa: E402
from scripts.slow_clients import percentile  # noqa: E402
from scripts.stack import smoke  # noqa: E402
from scripts.stack.ports import free_port  # noqa: E402
from scripts.stack.topology import Stack  # noqa: E402

HIT_SHARE, MISS_SHARE = 0.90, 0.09  # the rest are form posts
SIZE = 80
CONNECT_TIMEOUT, READ_TIMEOUT = 5.0, 35.0  # longer than the proxy's 30 s read timeout
REDIS_DOWN_SECONDS = 5.0
RENDERER_DOWN_SECONDS = 5.0
POSTGRES_CUT_SECONDS = 10.0
RUNS = ("baseline", "redis", "renderer", "postgres")
AUDIT_QUEUE = "audit:queue"  # monsters.audit's durable queue, in the cache's Redis
SETTLE_SECONDS = 1.0  # far longer than the write-behind's batches wait
QUEUE_WAIT_SECONDS = 15.0
_CSRF_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass(frozen=True)
class Answer:
    at: float  # seconds since the run started, when the request was sent
    kind: str  # hit | miss | post
    status: int | None  # None: the client got no answer (the error says why)
    cache: str  # X-Cache, or ""
    ms: float
    name_hash: str = ""
    error: str = ""


@dataclass
class Fault:
    name: str
    started: float = 0.0
    lifted: float = 0.0


@dataclass
class Target:
    """Where the traffic goes: the proxy, the art's revision, the warmed hashes."""

    url: str
    revision: str
    warm: list[str]

    def monster(self, name_hash: str) -> str:
        return f"{self.url}/monster/{name_hash}?size={SIZE}&v={self.revision}"


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # a local server: no proxy from the environment
    return session


def _answer(at: float, kind: str, call: Callable[[], requests.Response], name_hash: str) -> Answer:
    started = time.perf_counter()
    try:
        response = call()
    except requests.RequestException as exc:
        ms = (time.perf_counter() - started) * 1000
        return Answer(at, kind, None, "", ms, name_hash, type(exc).__name__)
    ms = (time.perf_counter() - started) * 1000
    return Answer(
        at, kind, response.status_code, response.headers.get("X-Cache", ""), ms, name_hash
    )


def _connection(target: Target, number: int, started: float, deadline: float) -> list[Answer]:
    """One kept-alive connection's requests, in the mix, until the deadline."""
    rng = random.Random(number)  # noqa: S311 - a traffic mix, not a secret
    answers = []
    timeout = (CONNECT_TIMEOUT, READ_TIMEOUT)
    headers = {"Origin": target.url, "Referer": target.url + "/"}  # as a browser posts
    with _session() as session:
        token = ""
        while time.monotonic() < deadline:
            at = time.monotonic() - started
            draw = rng.random()
            if draw < HIT_SHARE + MISS_SHARE:
                kind = "hit" if draw < HIT_SHARE else "miss"
                name_hash = rng.choice(target.warm) if kind == "hit" else secrets.token_hex(32)
                call = functools.partial(session.get, target.monster(name_hash), timeout=timeout)
                answers.append(_answer(at, kind, call, name_hash))
                continue
            token = token or _csrf_token(session, target.url, timeout)
            data = {"csrfmiddlewaretoken": token, "name": f"Fault bench {number} {at:.3f}"}
            call = functools.partial(
                session.post, target.url + "/", data=data, headers=headers, timeout=timeout
            )
            answers.append(_answer(at, "post", call, ""))
    return answers


def _csrf_token(session: requests.Session, url: str, timeout: tuple[float, float]) -> str:
    """The form's CSRF token; the session keeps the cookie that goes with it."""
    try:
        found = _CSRF_TOKEN.search(session.get(url + "/", timeout=timeout).text)
    except requests.RequestException:
        return ""
    return found[1] if found else ""


def _load(target: Target, connections: int, started: float, seconds: float) -> list[Answer]:
    deadline = started + seconds
    with ThreadPoolExecutor(max_workers=connections) as pool:
        futures = [
            pool.submit(_connection, target, number, started, deadline)
            for number in range(connections)
        ]
        return [answer for future in futures for answer in future.result()]


def _warm(target: Target) -> Counter[str]:
    """Fetch every warmed monster once; what X-Cache said, counted."""
    with _session() as session, ThreadPoolExecutor(max_workers=16) as pool:
        answers = pool.map(
            lambda name_hash: session.get(target.monster(name_hash), timeout=30), target.warm
        )
        return Counter(
            f"{answer.status_code} {answer.headers.get('X-Cache', '-')}" for answer in answers
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
        fault.lifted = time.monotonic() - began

    thread = threading.Thread(target=inject, name=f"fault-{name}", daemon=True)
    thread.start()
    return thread


def _through(database_url: str, port: int) -> str:
    """`database_url` with the relay's address in place of the server's."""
    parts = urlsplit(database_url)
    user, at, _ = parts.netloc.rpartition("@")
    return parts._replace(netloc=f"{user}{at}127.0.0.1:{port}").geturl()


def _audit_rows_after(database_url: str, marker: int) -> tuple[int, Counter[tuple[str, int]]]:
    """The largest audit row id, and the (hash, size) of every row after `marker`."""
    with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM monsters_generation")
        (largest,) = cursor.fetchone() or (0,)
        cursor.execute("SELECT name_hash, size FROM monsters_generation WHERE id > %s", (marker,))
        rows = Counter((name_hash, size) for name_hash, size in cursor.fetchall())
    connection.close()
    return int(largest), rows


def _marker_once_written(database_url: str) -> int:
    """The largest audit row id once the warm-up's rows are all in: a miss's row is
    written behind its answer (AUDIT_WRITE_BEHIND_MS), so wait until it holds still."""
    marker, _ = _audit_rows_after(database_url, 0)
    while True:
        time.sleep(SETTLE_SECONDS)
        latest, _ = _audit_rows_after(database_url, marker)
        if latest == marker:
            return marker
        marker = latest


def _queue_drain(redis_server: RedisServer) -> str:
    """How many audit rows wait in the durable queue when the traffic stops, and whether
    the web app's own flushers empty it within QUEUE_WAIT_SECONDS, unasked."""
    client = redis.Redis(port=redis_server.port, socket_timeout=2)
    try:
        waiting = client.xlen(AUDIT_QUEUE)
        deadline = time.monotonic() + QUEUE_WAIT_SECONDS
        left = waiting
        while left and time.monotonic() < deadline:
            time.sleep(0.5)
            left = client.xlen(AUDIT_QUEUE)
    finally:
        client.close()
    if not waiting:
        return "empty"
    return f"{waiting:,} rows, {left:,} left after {QUEUE_WAIT_SECONDS:.0f} s without flush_audit"


def _flush_audit(stack: Stack, log: Path) -> str:
    """`manage.py flush_audit` with the web app's own environment; its last line."""
    environment = stack.environment("identidock")
    result = subprocess.run(
        [sys.executable, "manage.py", "flush_audit"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    with log.open("a") as out:
        out.write(result.stdout + result.stderr)
    lines = (result.stdout + result.stderr).strip().splitlines()
    return lines[-1] if lines else f"exit {result.returncode}"


def _phase(answer: Answer, fault: Fault) -> str:
    """Where the answer came in (not where the request went out): before, during or
    after the fault."""
    came = answer.at + answer.ms / 1000
    if fault.name == "baseline" or came < fault.started:
        return "before"
    return "during" if came < fault.lifted else "after"


def _expected_failure(answer: Answer, run: str) -> bool:
    """503/504 for a miss while the renderer is away: the one failure the design allows."""
    return run == "renderer" and answer.kind == "miss" and answer.status in (503, 504)


def _report(
    run: str,
    answers: list[Answer],
    fault: Fault,
    seconds: float,
    rows: Counter[tuple[str, int]],
    flushed: str,
) -> tuple[list[str], bool]:
    generated = [
        answer
        for answer in answers
        if answer.status == HTTPStatus.OK and answer.cache in ("MISS", "BYPASS")
    ]
    generated_keys = Counter((answer.name_hash, SIZE) for answer in generated)
    statuses = Counter(str(answer.status or answer.error) for answer in answers)
    unexpected = [
        answer
        for answer in answers
        if (answer.status is None or answer.status >= 500) and not _expected_failure(answer, run)
    ]
    milliseconds = [answer.ms for answer in answers]
    hits = [answer.ms for answer in answers if answer.kind == "hit"]
    window = f": fault from {fault.started:.1f} s to {fault.lifted:.1f} s" if fault.lifted else ""
    lines = [
        f"== {run}{window}",
        f"requests {len(answers):,} in {seconds:.0f} s ({len(answers) / seconds:,.0f}/s); "
        + ", ".join(f"{status}: {count:,}" for status, count in sorted(statuses.items())),
        f"latency all p50 {percentile(milliseconds, 0.5):.1f} ms, "
        f"p99 {percentile(milliseconds, 0.99):.1f} ms; "
        f"hits p50 {percentile(hits, 0.5):.1f} ms, p99 {percentile(hits, 0.99):.1f} ms",
    ]
    by_phase: dict[tuple[str, str], Counter[str]] = {}
    for answer in answers:
        key = (_phase(answer, fault), answer.kind)
        by_phase.setdefault(key, Counter())[
            f"{answer.status or answer.error}" + (f" {answer.cache}" if answer.cache else "")
        ] += 1
    for phase in ("before", "during", "after"):
        parts = [
            f"{kind} " + ", ".join(f"{label} {count:,}" for label, count in sorted(counts.items()))
            for (answer_phase, kind), counts in sorted(by_phase.items())
            if answer_phase == phase
        ]
        if parts:
            lines.append(f"  {phase:<6} " + "; ".join(parts))
    same = sum(rows.values()) == len(generated) and set(rows) == set(generated_keys)
    lines.append(
        f"generated images (200 MISS/BYPASS) {len(generated):,}, distinct (hash, size) "
        f"{len(generated_keys):,}; audit rows {sum(rows.values()):,}, distinct "
        f"{len(rows):,}: {'equal' if same else 'NOT equal'}; flush_audit: {flushed}"
    )
    if not same:
        missing = set(generated_keys) - set(rows)
        extra = set(rows) - set(generated_keys)
        lines.append(
            f"  generated without a row: {len(missing)}; rows without an answer: {len(extra)}"
        )
    lines.append(f"unexpected 5xx or no answer: {len(unexpected):,}")
    return lines, same and not unexpected


def _counts(counts: Counter[str]) -> str:
    return ", ".join(f"{label} {count:,}" for label, count in sorted(counts.items()))


def _write_answers(path: Path, answers: list[Answer]) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["at_s", "kind", "status", "x_cache", "ms", "name_hash", "error"])
        for answer in sorted(answers, key=lambda answer: answer.at):
            writer.writerow(
                [
                    f"{answer.at:.3f}",
                    answer.kind,
                    answer.status or "",
                    answer.cache,
                    f"{answer.ms:.2f}",
                    answer.name_hash,
                    answer.error,
                ]
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
    warm = [
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
            relayed_url = _through(database_url, relay.port)
            try:
                with bench_stack(
                    database_url=relayed_url,
                    redis_url=redis_server.url,
                    log_dir=logs,
                    replicas=1,
                    **NO_RATE_LIMITS,  # one client: its misses and posts are the load
                ) as stack:
                    monster_path = smoke.smoke(stack.url).monster_path
                    revision = re.search(r"[?&]v=([\w.-]+)", monster_path)[1]  # type: ignore[index]
                    target = Target(stack.url, revision, warm)
                    saboteur = Saboteur(stack, redis_server, relay)
                    print(summary[0], f"\nproxy {stack.url}, raw output in {directory}", flush=True)
                    for run in runs:
                        warmed = _warm(target)
                        marker = _marker_once_written(database_url)
                        fault = Fault(run)
                        gunicorn_log = logs / "identidock.stderr.log"
                        log_start = log_offset(gunicorn_log)
                        began = time.monotonic()
                        injector = _inject(saboteur, fault, began=began, at=args.seconds / 3)
                        answers = _load(target, args.connections, began, args.seconds)
                        injector.join(60)
                        replaced = count_in_log(gunicorn_log, WORKER_REPLACED, after=log_start)
                        queued = _queue_drain(redis_server)
                        flushed = _flush_audit(stack, logs / "flush_audit.log")
                        _, rows = _audit_rows_after(database_url, marker)
                        lines, ok = _report(run, answers, fault, args.seconds, rows, flushed)
                        lines.insert(-1, f"audit queue after the traffic: {queued}")
                        lines.insert(
                            3, f"gunicorn replaced {replaced} workers (GUNICORN_MAX_REQUESTS)"
                        )
                        lines.insert(1, "warm-up: " + _counts(warmed))
                        passed = passed and ok
                        summary.extend(lines)
                        print("\n".join(lines), flush=True)
                        _write_answers(directory / f"{run}.csv", answers)
            finally:
                relay.close()
    finally:
        redis_server.stop()
    verdict = "met" if passed else "NOT met"
    summary.append(f"target (no unexpected 5xx, audit rows = generated images): {verdict}")
    print(summary[-1])
    (directory / "summary.txt").write_text("\n".join(summary) + "\n")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
