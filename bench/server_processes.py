"""What the benches that run servers of their own share: stopping one, and the CPU a
server's whole process tree has used (gunicorn's master and its workers)."""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (gunicorn drains), then SIGKILL if it has not gone in 30 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and all its descendants."""
    pids, total = [pid], 0.0
    while pids:
        current = pids.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:  # gone meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
        pids.extend(int(child) for child in children)
    return total


# What the wrk Lua scripts of these benches print when done: requests, duration in µs,
# p50 and p99 in µs, socket errors, non-2xx/3xx answers.
_WRK_RESULT = re.compile(r"^RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$", re.M)


def wrk_run(
    url: str,
    server: subprocess.Popen[bytes],
    script: Path,
    *,
    seconds: float,
    threads: int,
    connections: int,
    request_timeout: str = "5s",
) -> dict[str, float]:
    """One wrk run against `url`: req/s, p50 and p99 in ms, errors, and the CPU the
    server's process tree spent per request, in ms."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s"]
    command += ["--timeout", request_timeout, "-s", str(script), url]
    cpu_before = cpu_seconds(server.pid)
    output = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=seconds + 60
    )
    cpu = cpu_seconds(server.pid) - cpu_before
    match = _WRK_RESULT.search(output.stdout)
    if match is None:
        raise SystemExit(f"wrk printed no result:\n{output.stdout}{output.stderr}")
    requests, micros, p50, p99, socket_errors, bad_status = map(int, match.groups())
    return {
        "rps": requests / (micros / 1e6),
        "p50_ms": p50 / 1000,
        "p99_ms": p99 / 1000,
        "errors": socket_errors + bad_status,
        "cpu_ms": cpu * 1000 / max(requests, 1),
    }


def ratios_to_ceiling(runs: dict[str, list[dict[str, float]]]) -> dict[str, float]:
    """Each round's req/s over the ceiling's in that same round, then the median."""
    return {
        row: statistics.median(
            run["rps"] / ceiling["rps"]
            for run, ceiling in zip(results, runs["ceiling"], strict=True)
        )
        for row, results in runs.items()
    }


def medians(results: list[dict[str, float]]) -> tuple[float, float, float, float]:
    """The median req/s, p50, p99 and CPU ms/request of a row's rounds."""
    rps, p50, p99, cpu = (
        statistics.median(run[key] for run in results)
        for key in ("rps", "p50_ms", "p99_ms", "cpu_ms")
    )
    return rps, p50, p99, cpu
