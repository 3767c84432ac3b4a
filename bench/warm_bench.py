"""Benchmark: is `warm_cache` the bottleneck, or the renderer?

Starts our renderer under gunicorn (2 workers) on a free port in 8200-8299, measures
its own throughput for 10,000 distinct ids with a concurrent client (the same HTTP
client and concurrency the warmer uses), then runs `warm_cache` for 10,000 new names
against it and again with the built-in renderer in-process, and prints names/s and the
ratio of each to the renderer's throughput measured in this same run. Target: >= 0.8.

Uses a database and a Redis database of its own, which it creates when missing, migrates
and FLUSHES: BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/identidock_bench) and BENCH_REDIS_URL (default
redis://127.0.0.1:6379/14). The three phases run in --slices alternating slices, so
that they all see the same drift in the load of a shared machine:

    .venv/bin/python bench/warm_bench.py [--names 10000] [--concurrency 8] [--slices 5]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import create_database_if_missing  # noqa: E402 - needs ROOT on the path
from bench.results import recorded  # noqa: E402

os.environ.update(
    DJANGO_SETTINGS_MODULE="identidock.settings",
    DATABASE_URL=os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/identidock_bench"
    ),
    REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
    LOG_LEVEL="WARNING",
)
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
os.environ.pop("DNMONSTER_URL", None)

PORTS = range(8200, 8300)
TARGET_RATIO = 0.8


def _start_renderer(port: int, workers: int) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "renderer.wsgi:app",
        f"--workers={workers}",
        f"--bind=127.0.0.1:{port}",
        "--log-level=warning",
    ]
    # gunicorn reads ./gunicorn.conf.py (as in compose): keep its access log out of the figures.
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return process
        except OSError:
            time.sleep(0.1)
    _stop(process)
    raise SystemExit("the renderer did not start within 15 s")


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def _renderer_seconds(url: str, count: int, concurrency: int, size: int) -> float:
    """Seconds for `count` new ids through the warmer's own HTTP client, `concurrency` at once."""
    from monsters.guards import sources

    source = sources.DnmonsterSource(
        revision="dnmonster", base_url=url, connect_timeout=1.0, read_timeout=5.0
    )
    token = secrets.token_hex(8)
    ids = [hashlib.sha256(f"render-{token}-{n}".encode()).hexdigest() for n in range(count)]
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        started = time.perf_counter()
        received = sum(len(png) for png in pool.map(lambda i: source.fetch(i, size), ids))
        seconds = time.perf_counter() - started
    assert received > 0
    return seconds


def _warm(names_file: Path, concurrency: int, size: int) -> tuple[float, str]:
    """Seconds for the whole command (counting the file included), and its summary."""
    from django.core.management import call_command

    out = io.StringIO()
    started = time.perf_counter()
    call_command(
        "warm_cache",
        file=str(names_file),
        size=[str(size)],
        concurrency=concurrency,
        stdout=out,
        stderr=sys.stderr,
    )
    seconds = time.perf_counter() - started
    return seconds, out.getvalue().strip().splitlines()[-1]


def _names_file(directory: str, label: str, count: int) -> Path:
    token = secrets.token_hex(8)  # names never seen before, whatever ran earlier
    path = Path(directory) / f"{label}.txt"
    path.write_text("".join(f"bench {label} {token} {n}\n" for n in range(count)))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--size", type=int, default=80)
    parser.add_argument("--renderer-workers", type=int, default=2)
    parser.add_argument("--slices", type=int, default=5)
    args = parser.parse_args()

    create_database_if_missing(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.cache import caches
    from django.core.management import call_command
    from django.db import OperationalError
    from django.test import override_settings

    from monsters.models import Generation
    from scripts.stack import StackError
    from scripts.stack.ports import free_port

    try:
        call_command("migrate", verbosity=0)
    except OperationalError as exc:
        raise SystemExit(f"set BENCH_DATABASE_URL to a database to use: {exc}") from None
    monsters_cache = caches["monsters"]
    try:
        port = free_port(PORTS)
    except StackError as error:
        raise SystemExit(str(error)) from None
    url = f"http://127.0.0.1:{port}"
    renderer = _start_renderer(port, args.renderer_workers)
    print(
        f"renderer: gunicorn, {args.renderer_workers} workers at {url}; {args.names:,} names "
        f"per phase in {args.slices} slices, size {args.size}, concurrency {args.concurrency}"
    )
    # Slices of each phase alternate (renderer, warm over HTTP, warm in-process, renderer,
    # ...) so that all three see the same drift in the machine's load; each phase adds up
    # to --names ids.
    per_slice = args.names // args.slices
    seconds = {"renderer": 0.0, "http": 0.0, "builtin": 0.0}
    cpu = dict.fromkeys(seconds, 0.0)  # CPU time of this process: the client, or the command
    try:
        with tempfile.TemporaryDirectory() as directory:
            for number in range(1, args.slices + 1):
                cpu_started = time.process_time()
                elapsed = _renderer_seconds(url, per_slice, args.concurrency, args.size)
                seconds["renderer"] += elapsed
                cpu["renderer"] += time.process_time() - cpu_started
                line = [f"slice {number}: renderer {per_slice / elapsed:7.1f}/s"]
                for label, dnmonster_url in (("http", url), ("builtin", "")):
                    monsters_cache.clear()  # the bench's own Redis database only
                    names = _names_file(directory, label, per_slice)
                    before = Generation.objects.count()
                    cpu_started = time.process_time()
                    # override_settings, not an assignment: what is worked out once per
                    # settings (the source) is worked out again only when told.
                    with override_settings(DNMONSTER_URL=dnmonster_url):
                        elapsed, summary = _warm(names, args.concurrency, args.size)
                    cpu[label] += time.process_time() - cpu_started
                    assert summary.startswith(f"warmed {per_slice:,},"), summary
                    recorded = Generation.objects.count() - before
                    assert recorded == per_slice, f"{recorded} audit rows for {per_slice} names"
                    seconds[label] += elapsed
                    line.append(f"{label} {per_slice / elapsed:7.1f}/s")
                print("  ".join(line))
    finally:
        _stop(renderer)
        monsters_cache.clear()
    total = per_slice * args.slices
    renderer_rate = total / seconds["renderer"]
    print(
        f"renderer alone:                 {renderer_rate:8.1f} ids/s"
        f"    (client CPU {cpu['renderer'] / total * 1000:.2f} ms/id)"
    )
    for label, where in (("http", "over HTTP"), ("builtin", "built-in, in-process")):
        rate = total / seconds[label]
        ms_per_name = cpu[label] / total * 1000
        print(
            f"warm_cache ({where + '):':<22} {rate:8.1f} names/s = "
            f"{rate / renderer_rate:.2f} x renderer  (command CPU {ms_per_name:.2f} ms/name)"
        )
    ratio = (total / seconds["http"]) / renderer_rate
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(f"target {TARGET_RATIO} x renderer over HTTP: {verdict}")


if __name__ == "__main__":
    with recorded("warm_bench"):
        main()
