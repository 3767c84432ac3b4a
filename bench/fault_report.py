"""What the fault bench makes of a run: where each answer came (before, during or after
the fault), which failures the design allows, the audit rows against the images
generated, the durable audit queue when the traffic stops, and the raw answers as CSV."""

from __future__ import annotations

import csv
import time
from collections import Counter
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

import psycopg2
import redis

from bench.fault_traffic import SIZE, Answer
from bench.own_stack import RedisServer
from scripts.slow_clients import percentile

AUDIT_QUEUE = "audit:queue"  # monsters.audit.record's durable queue, in the cache's Redis
SETTLE_SECONDS = 1.0  # far longer than the write-behind's batches wait
QUEUE_WAIT_SECONDS = 15.0


@dataclass
class Fault:
    name: str
    started: float = 0.0
    lifted: float = 0.0


def audit_rows_after(database_url: str, marker: int) -> tuple[int, Counter[tuple[str, int]]]:
    """The largest audit row id, and the (hash, size) of every row after `marker`."""
    with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM monsters_generation")
        (largest,) = cursor.fetchone() or (0,)
        cursor.execute("SELECT name_hash, size FROM monsters_generation WHERE id > %s", (marker,))
        rows = Counter((name_hash, size) for name_hash, size in cursor.fetchall())
    connection.close()
    return int(largest), rows


def marker_once_written(database_url: str) -> int:
    """The largest audit row id once the warm-up's rows are all in: a miss's row is
    written behind its answer (AUDIT_WRITE_BEHIND_MS), so wait until it holds still."""
    marker, _ = audit_rows_after(database_url, 0)
    while True:
        time.sleep(SETTLE_SECONDS)
        latest, _ = audit_rows_after(database_url, marker)
        if latest == marker:
            return marker
        marker = latest


def queue_drain(redis_server: RedisServer) -> str:
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


def _phase(answer: Answer, fault: Fault) -> str:
    """Where the answer came in (not where the request went out): before, during or
    after the fault."""
    came = answer.at + answer.ms / 1000
    if fault.name == "baseline" or came < fault.started:
        return "before"
    return "during" if came < fault.lifted else "after"


def _expected_failure(answer: Answer, run: str) -> bool:
    """503/504 for a miss while the renderer is away: the one failure the design allows."""
    return (
        run in ("renderer", "renderer-frozen")
        and answer.kind == "miss"
        and answer.status in (503, 504)
    )


def report(
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


def counts(counts: Counter[str]) -> str:
    return ", ".join(f"{label} {count:,}" for label, count in sorted(counts.items()))


def write_answers(path: Path, answers: list[Answer]) -> None:
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
