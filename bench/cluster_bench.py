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
the killed replica, and no lost rows. Raw output and every log go to var/bench/cluster-*/.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2

# `python bench/cluster_bench.py` puts bench/ on the path, not the checkout.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import wrk as wrk_runs  # noqa: E402
from bench.one_client import NO_RATE_LIMITS  # noqa: E402
from bench.own_stack import (  # noqa: E402
    bench_stack,
    log_offset,
    own_redis,
    scratch_database,
)
from bench.results import run_directory  # noqa: E402
from scripts.stack import smoke  # noqa: E402
from scripts.stack.topology import Stack  # noqa: E402

SIZE = 80
REPLICAS = 3
KILLED = "identidock-2"
LUA_SAME_PATH_IN_A_ROW = """
-- cluster_bench: `repeats` requests in a row get the same path, on different
-- connections; every thread walks the same sequence, so each hash is asked for by
-- threads x repeats connections at about the same time. Then round again: hits.
local counter = 0
function request()
  local index = math.floor(counter / repeats) % #paths + 1
  counter = counter + 1
  return wrk.format("GET", paths[index])
end
"""

# nginx's access log line (docker/nginx/templates/default.conf.template's format).
_PROXY_LINE = re.compile(
    r'"GET (?P<path>/monster/(?P<hash>[0-9a-f]{64})\?size=(?P<size>\d+)\S*) HTTP/1\.1" '
    r"(?P<status>\d{3}) (?P<bytes>\d+) .* "
    r'ua="(?P<upstreams>[^"]*)" us="(?P<upstream_statuses>[^"]*)" '
    r"xc=(?P<cache>\S*)"
)
_RENDERER_LINE = re.compile(r'"GET /monster/(?P<hash>[0-9a-f]{64})\?size=(?P<size>\d+)')


@dataclass(frozen=True)
class ProxyAnswer:
    name_hash: str
    size: int
    status: int
    body_bytes: int  # what reached the client: 0 with a 200 is an answer cut short
    upstreams: list[str]  # every replica tried, in order (more than one: nginx retried)
    upstream_statuses: list[str]
    cache: str  # the answering replica's X-Cache, or "-"


@dataclass
class Figures:
    """What one run saw: from wrk, nginx's log, the renderer's log and the audit table."""

    seconds: float
    wrk: wrk_runs.WrkRun
    answers: list[ProxyAnswer]
    renders: Counter[tuple[str, int]]  # (hash, size) -> renderer requests
    rows: Counter[tuple[str, int]]  # (hash, size) -> audit rows
    replicas: dict[str, str]  # "127.0.0.1:port" -> replica name
    killed: str = ""
    killed_at: float = 0.0  # seconds into the run
    killed_threads: int = 0  # requests the killed replica could have had in flight
    flushed: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def statuses(self) -> Counter[int]:
        return Counter(answer.status for answer in self.answers)

    @property
    def server_errors(self) -> list[ProxyAnswer]:
        return [answer for answer in self.answers if answer.status >= 500]

    @property
    def truncated(self) -> list[ProxyAnswer]:
        """200 answers with no body: the replica died after its header, too late for
        nginx to try another (the client sees its connection closed: a wrk read error)."""
        return [a for a in self.answers if a.status == 200 and not a.body_bytes]

    @property
    def answered(self) -> set[tuple[str, int]]:
        """(hash, size) answered 200, with a body, at least once."""
        return {(a.name_hash, a.size) for a in self.answers if a.status == 200 and a.body_bytes}

    @property
    def requested(self) -> set[tuple[str, int]]:
        return {(a.name_hash, a.size) for a in self.answers}

    @property
    def rendered_more_than_once(self) -> dict[tuple[str, int], int]:
        return {key: count for key, count in self.renders.items() if count > 1}

    @property
    def duplicate_rows(self) -> dict[tuple[str, int], int]:
        return {key: count for key, count in self.rows.items() if count > 1}

    @property
    def lost_rows(self) -> set[tuple[str, int]]:
        """Answered 200, so generated and cached, but never recorded."""
        return self.answered - set(self.rows)

    @property
    def rows_without_answer(self) -> set[tuple[str, int]]:
        return set(self.rows) - self.answered

    @property
    def retried(self) -> list[ProxyAnswer]:
        return [answer for answer in self.answers if len(answer.upstreams) > 1]

    def by_replica(self) -> dict[str, Counter[str]]:
        """Per replica (the last one nginx tried: the one that answered), answers by
        status and X-Cache."""
        counts: dict[str, Counter[str]] = {name: Counter() for name in self.replicas.values()}
        for answer in self.answers:
            name = self.replicas.get(answer.upstreams[-1], answer.upstreams[-1])
            counts.setdefault(name, Counter())[f"{answer.status} {answer.cache}"] += 1
        return counts

    def hits_by_replica(self) -> dict[str, int]:
        return {
            name: sum(n for label, n in counts.items() if label == "200 HIT")
            for name, counts in self.by_replica().items()
        }

    def in_flight_on_killed(self) -> list[ProxyAnswer]:
        """5xx or cut-short answers whose request had reached the killed replica."""
        address = next((a for a, n in self.replicas.items() if n == self.killed), None)
        return [
            answer
            for answer in self.server_errors + self.truncated
            if address is not None and address in answer.upstreams
        ]

    def unexplained_failures(self) -> int:
        """5xx and cut-short answers that no kill explains."""
        failed = len(self.server_errors) + len(self.truncated)
        return failed - len(self.in_flight_on_killed())

    def lines(self, title: str) -> list[str]:
        wrk = self.wrk
        errors = ", ".join(f"{name} {count:,}" for name, count in wrk.errors.items())
        measured = wrk_runs.Measured([wrk])
        statuses = ", ".join(f"{s}: {n:,}" for s, n in sorted(self.statuses.items()))
        renders_total = sum(self.renders.values())
        lines = [
            f"== {title}",
            f"wrk: {wrk.requests:,} requests in {wrk.seconds:.1f} s "
            f"({wrk.requests / wrk.seconds:,.0f}/s); socket errors: {errors}; "
            f"p50 {measured.percentile_ms(50):.1f} ms, p99 {measured.percentile_ms(99):.1f} ms",
            f"nginx: {len(self.answers):,} /monster answers; statuses {statuses}; "
            f"5xx {len(self.server_errors):,}; cut short (200, no body) {len(self.truncated):,}; "
            f"retried on another replica {len(self.retried):,}",
            f"hashes: {len(self.requested):,} (hash, size) requested, "
            f"{len(self.answered):,} answered 200",
            f"renders: {renders_total:,} renderer requests for {len(self.renders):,} "
            f"(hash, size); rendered more than once: {len(self.rendered_more_than_once):,}"
            + (
                f" (allowed: {self.killed_threads}, the killed replica's threads)"
                if self.killed
                else ""
            ),
            f"audit: {sum(self.rows.values()):,} rows for {len(self.rows):,} (hash, size); "
            f"duplicates {len(self.duplicate_rows):,}; lost (200 without a row) "
            f"{len(self.lost_rows):,}; rows without a 200 {len(self.rows_without_answer):,}; "
            f"flush_audit: {self.flushed}",
        ]
        for name, counts in sorted(self.by_replica().items()):
            detail = ", ".join(f"{label} {n:,}" for label, n in sorted(counts.items()))
            lines.append(f"  {name}: {sum(counts.values()):,} answers ({detail})")
        if self.killed:
            lines.append(
                f"kill: {self.killed} SIGKILLed at {self.killed_at:.1f} s; 5xx or cut short "
                f"of requests that had reached it {len(self.in_flight_on_killed()):,}, others "
                f"{self.unexplained_failures():,}"
            )
        lines.extend(self.notes)
        return lines

    def failures(self) -> list[str]:
        """The targets this run missed, in words; empty when it met them all."""
        failures = []
        # A render in flight on the killed replica is done again by another once its
        # `lock:` key expires: at most one per request the killed replica could hold.
        if len(self.rendered_more_than_once) > self.killed_threads:
            failures.append(f"{len(self.rendered_more_than_once)} (hash, size) rendered twice")
        if self.duplicate_rows:
            failures.append(f"{len(self.duplicate_rows)} (hash, size) audited twice")
        if self.lost_rows:
            failures.append(f"{len(self.lost_rows)} audit rows lost")
        if unexplained := self.unexplained_failures():
            failures.append(f"{unexplained} 5xx or cut-short answers not explained by the kill")
        idle = [name for name, hits in self.hits_by_replica().items() if not hits]
        if idle:
            failures.append(f"no hits from {', '.join(sorted(idle))}")
        return failures


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


def _proxy_answers(log: Path, after: int) -> list[ProxyAnswer]:
    with log.open("rb") as handle:
        handle.seek(after)
        text = handle.read().decode(errors="replace")
    answers = []
    for match in _PROXY_LINE.finditer(text):
        answers.append(
            ProxyAnswer(
                match["hash"],
                int(match["size"]),
                int(match["status"]),
                int(match["bytes"]),
                [part.strip() for part in match["upstreams"].split(",")],
                [part.strip() for part in match["upstream_statuses"].split(",")],
                match["cache"],
            )
        )
    return answers


def _renders(log: Path, after: int, wanted: set[str]) -> Counter[tuple[str, int]]:
    with log.open("rb") as handle:
        handle.seek(after)
        text = handle.read().decode(errors="replace")
    return Counter(
        (match["hash"], int(match["size"]))
        for match in _RENDERER_LINE.finditer(text)
        if match["hash"] in wanted
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


def flush_audit(stack: Stack, log: Path) -> str:
    """`manage.py flush_audit` with the web app's own environment; its last line."""
    result = subprocess.run(
        [sys.executable, "manage.py", "flush_audit"],
        cwd=ROOT,
        env=stack.environment("identidock"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    with log.open("a") as out:
        out.write(result.stdout + result.stderr)
    lines = (result.stdout + result.stderr).strip().splitlines()
    return lines[-1] if lines else f"exit {result.returncode}"


def revision_of(stack: Stack) -> str:
    """The art's revision, from the monster URL the page shows."""
    found = re.search(r"[?&]v=([\w.-]+)", smoke.smoke(stack.url).monster_path)
    if found is None:
        raise RuntimeError("the page's monster URL names no revision")
    return found[1]


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
            answer
            for answer in _proxy_answers(proxy_log, proxy_start)
            if answer.name_hash in wanted
        ],
        renders=_renders(renderer_log, renderer_start, wanted),
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
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
