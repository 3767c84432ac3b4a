"""Memory of Identidock's gunicorn workers under cache hits: VmRSS of each worker before
and after a number of hits, against two targets (at most `RSS_LIMIT_MB` a worker, and
flat within `RSS_FLAT` over the hits, the same processes throughout)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.servers import Server, rss_mb
from bench.targets import Verdict
from bench.wrk import WrkRun

RSS_LIMIT_MB = 80.0
RSS_FLAT = 0.05


@dataclass(frozen=True)
class WorkerRss:
    before: dict[int, float]  # worker pid -> MB
    after: dict[int, float]
    hits: int
    seconds: float

    @property
    def peak_mb(self) -> float:
        return max(*self.before.values(), *self.after.values())

    @property
    def change(self) -> float:
        """The mean's relative change over the hits."""
        mean_before = sum(self.before.values()) / len(self.before)
        return (sum(self.after.values()) / len(self.after) - mean_before) / mean_before

    @property
    def replaced(self) -> int:
        """Workers gone meanwhile (then `after` is not the same processes)."""
        return len(set(self.before) - set(self.after))

    @property
    def under_limit(self) -> bool:
        return self.peak_mb <= RSS_LIMIT_MB

    @property
    def flat(self) -> bool:
        return abs(self.change) <= RSS_FLAT and not self.replaced

    def verdicts(self) -> list[Verdict]:
        """The two targets as verdicts, for the tables that gather every bench's."""
        replaced = " (workers were replaced: not the same processes)" if self.replaced else ""
        return [
            Verdict(
                "rss",
                f"<= {RSS_LIMIT_MB:.0f} MB per worker",
                self.peak_mb,
                self.under_limit,
                shown=f"{self.peak_mb:.1f} MB",
            ),
            Verdict(
                "rss",
                f"flat within {RSS_FLAT:.0%} over {self.hits:,} hits",
                self.change,
                self.flat,
                replaced,
                shown=f"{self.change:+.1%}",
            ),
        ]

    def lines(self) -> list[str]:
        def summary(rss: dict[int, float]) -> str:
            values = ", ".join(f"{pid}: {mb:.1f}" for pid, mb in sorted(rss.items()))
            mean = sum(rss.values()) / len(rss)
            return f"mean {mean:.1f} MB, max {max(rss.values()):.1f} MB ({values})"

        return [
            f"- before {self.hits:,} hits: {summary(self.before)}",
            f"- after {self.hits:,} hits ({self.seconds:.0f} s): {summary(self.after)}",
            f"- workers replaced meanwhile: {self.replaced} of {len(self.before)}",
            f"- <= {RSS_LIMIT_MB:.0f} MB per worker: max {self.peak_mb:.1f} MB "
            f"{'PASS' if self.under_limit else 'FAIL'}",
            f"- flat (+-{RSS_FLAT:.0%}) over the hits: mean {self.change:+.1%} "
            f"{'PASS' if self.flat else 'FAIL'}"
            + (" (workers were replaced: not the same processes)" if self.replaced else ""),
        ]


def measure(
    server: Server,
    hit: Callable[[int], WrkRun],
    *,
    hits: int,
    max_seconds: int,
    rate: float,
) -> tuple[WorkerRss, list[str]]:
    """VmRSS of each worker of `server` before and after `hits` hits, made by `hit(seconds)`
    (a wrk run of cache hits).

    wrk has no request count, so the hits go in runs of whole seconds, each as long as the
    hits still wanted take at the last `rate` seen, until they are made or `max_seconds`
    is spent."""
    made, spent = 0, 0.0
    before = {pid: rss_mb(pid) for pid in server.workers()}
    while made < hits and spent < max_seconds:
        seconds = min(math.ceil((hits - made) / rate), 30, math.ceil(max_seconds - spent))
        run = hit(max(seconds, 1))
        made, spent = made + run.requests, spent + run.seconds
        rate = max(run.rate, 1.0)
    time.sleep(0.5)  # a replaced worker's successor has registered by now
    after = {pid: rss_mb(pid) for pid in server.workers()}
    measured = WorkerRss(before, after, made, spent)
    notes = [f"- only {made:,} of {hits:,} hits within {max_seconds} s"] if made < hits else []
    return measured, notes
