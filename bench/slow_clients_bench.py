"""Benchmark: do slow and idle clients stall ordinary requests? Through the proxy, and not.

    .venv/bin/python bench/slow_clients_bench.py [--direct] [--seconds 20] [--slow 50]
                                                 [--idle 50] [--clients 4]

Starts make stack's topology (nginx in front of gunicorn, 2 workers x 4 threads) on a
redis-server and a database of its own, caches one monster, then times ordinary
requests for it from --clients kept-alive clients (one request every 20 ms each): first
for 5 s undisturbed, then for --seconds while --slow raw connections send a header line
every 2 s and never finish it, and --idle more connect and say nothing (each reconnects
at once when the server closes it). Through the proxy by default; with --direct the
same clients and attackers go straight to gunicorn's port, as `make run` or a published
gunicorn would be reached. Prints requests, failures and p50/p99/max for both phases,
and what the attackers managed; the raw timings go to var/bench/slow-clients-*/.
Target: under attack through the proxy, every request 200 and p99 under 100 ms.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from http import HTTPStatus
from pathlib import Path

# `python bench/slow_clients_bench.py` puts bench/ on the path, not the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.own_stack import (  # noqa: E402
    WORKER_REPLACED,
    bench_stack,
    count_in_log,
    own_redis,
    scratch_database,
)
from bench.results import recorded, run_directory  # noqa: E402
from scripts.slow_clients import Attackers, Timing, percentile, timed_gets  # noqa: E402
from scripts.stack import smoke  # noqa: E402

BASELINE_SECONDS = 5.0
PAUSE_SECONDS = 0.02
TIMEOUT_SECONDS = 10.0
P99_TARGET_SECONDS = 0.1


def _clients(url: str, clients: int, seconds: float) -> list[Timing]:
    """`clients` threads, each timing GETs of `url` over its own session for `seconds`."""
    results: list[list[Timing]] = [[] for _ in range(clients)]
    deadline = time.monotonic() + seconds

    def client(number: int) -> None:
        results[number] = timed_gets(
            iter(lambda: url, None), pause=PAUSE_SECONDS, deadline=deadline, timeout=TIMEOUT_SECONDS
        )

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + TIMEOUT_SECONDS + 5)
    return [timing for timings in results for timing in timings]


def _summary(label: str, timings: list[Timing]) -> str:
    seconds = [timing.seconds for timing in timings]
    ok = sum(timing.status == HTTPStatus.OK for timing in timings)
    errors: dict[str, int] = {}
    for timing in timings:
        if timing.status != HTTPStatus.OK:
            reason = timing.error or str(timing.status)
            errors[reason] = errors.get(reason, 0) + 1
    failed = ", ".join(f"{count} {reason}" for reason, count in sorted(errors.items())) or "none"
    return (
        f"{label:<14} {len(timings):6,} requests  {ok:6,} x 200  failed: {failed}\n"
        f"{'':<14} p50 {percentile(seconds, 0.5) * 1000:8.1f} ms  "
        f"p99 {percentile(seconds, 0.99) * 1000:8.1f} ms  max {max(seconds) * 1000:8.1f} ms"
    )


def _write_timings(path: Path, phases: dict[str, list[Timing]]) -> None:
    with path.open("w") as out:
        out.write("phase,status,ms,error\n")
        for phase, timings in phases.items():
            for timing in timings:
                status = timing.status or ""
                out.write(f"{phase},{status},{timing.seconds * 1000:.2f},{timing.error}\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--direct", action="store_true", help="straight at gunicorn, no proxy")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--slow", type=int, default=50)
    parser.add_argument("--idle", type=int, default=50)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    mode = "direct" if args.direct else "proxy"
    directory = run_directory(f"slow-clients-{mode}")

    with (
        own_redis(directory / "logs") as redis_server,
        scratch_database("identidock_slow_clients_bench") as database_url,
        bench_stack(
            database_url=database_url, redis_url=redis_server.url, log_dir=directory / "logs"
        ) as stack,
    ):
        monster_path = smoke.smoke(stack.url).monster_path  # drawn once, then a hit
        base, port = (stack.web_url, stack.web_port) if args.direct else (stack.url, stack.port)
        url = base + monster_path
        print(
            f"{mode}: {url}\n{args.clients} clients, one request each every "
            f"{PAUSE_SECONDS * 1000:.0f} ms; then {args.slow} slow + {args.idle} idle "
            f"connections for {args.seconds:.0f} s",
            flush=True,
        )
        baseline = _clients(url, args.clients, BASELINE_SECONDS)
        attackers = Attackers(port, slow=args.slow, idle=args.idle, seconds=args.seconds)
        attackers.start()
        attackers.wait_until_connected(timeout=5)
        attacked = _clients(url, args.clients, args.seconds - 0.5)
        attack = attackers.join()
    replaced = count_in_log(directory / "logs" / "identidock.stderr.log", WORKER_REPLACED)

    lines = [
        f"mode: {mode} ({'gunicorn alone' if args.direct else 'nginx in front of gunicorn'}), "
        f"gunicorn 2 workers x 4 threads",
        _summary("undisturbed", baseline),
        _summary("under attack", attacked),
        f"attackers: {attack.opened:,} connections opened, {attack.closed_by_server:,} closed "
        f"by the server ({attack.answered:,} with an answer), at most {attack.peak_open} open "
        f"at once, {attack.connect_failures} failed to connect",
        f"gunicorn replaced {replaced} workers meanwhile (GUNICORN_MAX_REQUESTS)",
    ]
    attacked_seconds = [timing.seconds for timing in attacked]
    met = (
        all(timing.status == HTTPStatus.OK for timing in attacked)
        and percentile(attacked_seconds, 0.99) < P99_TARGET_SECONDS
    )
    lines.append(
        f"target (all 200, p99 under {P99_TARGET_SECONDS * 1000:.0f} ms under attack): "
        + ("met" if met else "NOT met")
    )
    report = "\n".join(lines)
    print(report)
    (directory / "summary.txt").write_text(report + "\n")
    _write_timings(directory / "timings.csv", {"undisturbed": baseline, "under attack": attacked})
    print(f"raw timings and logs: {directory}")
    return 0


if __name__ == "__main__":
    with recorded("slow_clients_bench-direct" if "--direct" in sys.argv else "slow_clients_bench"):
        status = main()
    sys.exit(status)
