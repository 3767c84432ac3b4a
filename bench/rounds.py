"""How the serving benches measure: an unmeasured warm-up of each server, then wrk in
interleaved rounds (A B C ... A B C ...) so that every scenario sees the same drift in a
shared machine's load, with the servers' CPU time and the audit rows written counted
around every run. Also their common options, raw-output directory and report, and the
`Section` each bench hands back so that bench/serving_bench.py can gather them."""

from __future__ import annotations

import argparse
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import results
from bench.databases import audit_rows
from bench.servers import Server, Servers, gunicorn_tuning
from bench.targets import Verdict
from bench.wrk import Measured, WrkRun, run_wrk


@dataclass
class Scenario:
    key: str
    label: str
    server: Server
    script: Callable[[], str]  # called once per run: fresh scripts need fresh prefixes
    cached: bool = False  # must be served from a warm cache (checked before each run)


@dataclass
class Section:
    """What one serving bench found: its report's lines and its targets' verdicts."""

    bench_name: str
    lines: list[str]
    verdicts: list[Verdict]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every serving bench takes. Three rounds by default: the hit's target
    is a median of rounds, and one round a neighbour spoiled should not decide any."""
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--warmup", type=int, default=2, help="seconds per server, unmeasured")
    parser.add_argument(
        "--keep-access-logs", action="store_true", help="keep the servers' access logs"
    )


def check_arguments(parser: argparse.ArgumentParser, arguments: argparse.Namespace) -> None:
    if not 1 <= arguments.threads <= arguments.connections:
        parser.error("--threads must be between 1 and --connections")
    if min(arguments.duration, arguments.rounds) < 1:
        parser.error("--duration and --rounds must be at least 1")


@dataclass
class Runner:
    """One bench run's options, raw-output directory and servers."""

    arguments: argparse.Namespace
    directory: Path
    servers: Servers
    database_url: str
    ensure_warm: Callable[[], None] = lambda: None  # before each run of a cached scenario
    rounds: list[str] = field(default_factory=list)  # req/s of each round, for the report

    def wrk(self, server: Server, script: str, seconds: int, label: str) -> WrkRun:
        """One wrk run against `server`, with the servers' CPU and the audit rows
        written during it."""
        cpu_before = self.servers.cpu_seconds()
        rows_before = audit_rows(self.database_url)
        run = run_wrk(
            server.url,
            script,
            seconds=seconds,
            connections=self.arguments.connections,
            threads=self.arguments.threads,
            raw=self.directory / f"{label}.txt",
        )
        run.server_cpu_seconds = self.servers.cpu_seconds() - cpu_before
        run.audit_rows = audit_rows(self.database_url) - rows_before
        return run

    def measure(self, scenarios: list[Scenario]) -> dict[str, Measured]:
        """An unmeasured warm-up of each server, then the interleaved rounds."""
        arguments = self.arguments
        print(
            f"wrk -t{arguments.threads} -c{arguments.connections} -d{arguments.duration}s, "
            f"{arguments.rounds} interleaved round(s); raw output in {shown(self.directory)}/",
            flush=True,
        )
        warmed: set[str] = set()
        for scenario in scenarios:
            if arguments.warmup and scenario.server.name not in warmed:
                warmed.add(scenario.server.name)
                self.wrk(
                    scenario.server, scenario.script(), arguments.warmup, "warmup-" + scenario.key
                )
        measured = {scenario.key: Measured() for scenario in scenarios}
        for number in range(1, arguments.rounds + 1):
            line = []
            for scenario in scenarios:
                if scenario.cached:
                    self.ensure_warm()
                run = self.wrk(
                    scenario.server,
                    scenario.script(),
                    arguments.duration,
                    f"round{number}-{scenario.key}",
                )
                measured[scenario.key].runs.append(run)
                line.append(f"{scenario.key} {run.rate:,.0f}")
            self.rounds.append(f"round {number}: " + "  ".join(line) + " req/s")
            print(self.rounds[-1], flush=True)
        return measured


def shown(path: Path) -> str:
    """`path` from the checkout's root, as the report names it."""
    return str(path.relative_to(results.ROOT)) if path.is_relative_to(results.ROOT) else str(path)


def begin(bench_name: str) -> tuple[Path, Report]:
    """What every serving bench starts with: wrk checked for, its run's directory, and
    its report (timed from now)."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    directory = output_directory(bench_name)
    return directory, Report(bench_name, directory)


def output_directory(bench_name: str) -> Path:
    """var/bench/<bench_name>-<UTC time>/: raw wrk output, scripts and server logs."""
    return results.run_directory(bench_name.removesuffix("_bench"))


@dataclass
class Report:
    """The Markdown a serving bench prints and writes to its result file."""

    bench_name: str
    directory: Path
    started: float = field(default_factory=time.monotonic)
    load_before: float = field(default_factory=lambda: os.getloadavg()[0])

    def heading(self, arguments: argparse.Namespace, servers: Servers, first: Server) -> list[str]:
        tuning = ", ".join(f"{k}={v}" for k, v in gunicorn_tuning().items()) or "none"
        return [
            f"# {self.bench_name}, {results.result_path(self.bench_name).stem[:10]}",
            "",
            f"`{results.command_line()}`",
            "",
            f"wrk -t{arguments.threads} -c{arguments.connections} -d{arguments.duration}s, "
            f"{arguments.rounds} interleaved round(s), after {arguments.warmup} s of warm-up "
            f"per server; servers {', '.join(s.name for s in servers.started)} under "
            f"gunicorn.conf.py, {len(first.workers())} workers each (GUNICORN_* set: {tuning}).",
        ]

    def footing(self) -> list[str]:
        return [
            f"{time.monotonic() - self.started:.0f} s in all; load average (1 min) "
            f"{self.load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, on "
            f"{os.cpu_count()} CPUs; raw wrk output in {shown(self.directory)}/. CPU us/req: CPU "
            "time of all the servers above (gunicorn masters and workers) per request, "
            "wrk's not counted; req/s, p50 and p99 over all rounds together.",
        ]

    def close(
        self,
        lines: list[str],
        runner: Runner,
        verdicts: list[Verdict],
        *,
        result_file: bool,
        notes: tuple[str, ...] = (),
    ) -> Section:
        """What ends every serving bench's report: the rounds' rates, the footing (and
        `notes` after it), then `finish`; the bench's Section."""
        lines = [*lines, "", results.code_block(runner.rounds), "", *self.footing(), *notes]
        self.finish(lines, runner.arguments.keep_access_logs, result_file=result_file)
        return Section(self.bench_name, lines, verdicts)

    def finish(
        self, lines: list[str], keep_access_logs: bool, *, result_file: bool = True
    ) -> Path | None:
        """Print the report, write the result file (unless a driver gathers the reports
        into one of its own: `result_file` false); drop the access logs unless kept."""
        text = "\n".join(lines)
        print("\n" + text)
        (self.directory / "report.md").write_text(text + "\n")
        if not keep_access_logs:
            for log in self.directory.glob("*.access.log"):
                log.unlink()
        if not result_file:
            return None
        path = results.write_result(self.bench_name, text)
        print(f"\nresult: {path}")
        return path
