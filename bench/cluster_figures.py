"""What one run of bench/cluster_bench.py saw, and whether it met the targets: wrk's
figures, nginx's access log (which replica answered, with what status and X-Cache), the
renderer's access log (every render) and the audit rows, per (hash, size)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.wrk import Measured, WrkRun

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
    wrk: WrkRun
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
        measured = Measured([wrk])
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


def proxy_answers(log: Path, after: int) -> list[ProxyAnswer]:
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


def renders(log: Path, after: int, wanted: set[str]) -> Counter[tuple[str, int]]:
    with log.open("rb") as handle:
        handle.seek(after)
        text = handle.read().decode(errors="replace")
    return Counter(
        (match["hash"], int(match["size"]))
        for match in _RENDERER_LINE.finditer(text)
        if match["hash"] in wanted
    )
