"""Benchmark: is `warm_cache` the bottleneck, or the renderer?

Starts our renderer under gunicorn (2 workers) on a free port in BENCH_PORTS, measures
its own throughput for 10,000 distinct ids with a concurrent client (the same HTTP
client and concurrency the warmer uses), then runs `warm_cache` for 10,000 new names
against it and again with the built-in renderer in-process, and prints names/s and the
ratio of each to the renderer's throughput measured in this same run. Target: >= 0.8.

Uses its own database and Redis db (flushed between phases), never the suite's:

    createdb identidock_warm_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/identidock_warm_bench \\
    REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python bench/warm_bench.py
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "identidock.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/identidock_warm_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/12")
os.environ.setdefault("LOG_LEVEL", "WARNING")

BENCH_PORTS = range(8200, 8300)
TARGET_RATIO = 0.8


def _free_port() -> int:
    for port in BENCH_PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit(f"no free port in {BENCH_PORTS.start}..{BENCH_PORTS.stop - 1}")


def _start_renderer(port: int, workers: int) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "monsters.renderer.wsgi:app",
        f"--workers={workers}",
        f"--bind=127.0.0.1:{port}",
        "--log-level=warning",
    ]
    process = subprocess.Popen(command, cwd=ROOT)
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


def _renderer_throughput(url: str, count: int, concurrency: int, size: int) -> float:
    from monsters import sources

    source = sources.DnmonsterSource(base_url=url, connect_timeout=1.0, read_timeout=5.0)
    token = secrets.token_hex(8)
    ids = [hashlib.sha256(f"render-{token}-{n}".encode()).hexdigest() for n in range(count)]
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(lambda identifier: source.fetch(identifier, size), ids[:200]))  # warm-up
        started = time.perf_counter()
        total_bytes = sum(len(png) for png in pool.map(lambda i: source.fetch(i, size), ids))
        seconds = time.perf_counter() - started
    assert total_bytes > 0
    return count / seconds


def _warm(names_file: Path, concurrency: int, size: int) -> tuple[float, str]:
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
    token = secrets.token_hex(8)
    path = Path(directory) / f"{label}.txt"
    path.write_text("".join(f"bench {label} {token} {n}\n" for n in range(count)))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--size", type=int, default=80)
    parser.add_argument("--renderer-workers", type=int, default=2)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import caches
    from django.core.management import call_command

    from monsters.models import Generation

    call_command("migrate", verbosity=0)
    monsters_cache = caches["monsters"]
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    renderer = _start_renderer(port, args.renderer_workers)
    try:
        print(
            f"renderer: gunicorn, {args.renderer_workers} workers at {url}; "
            f"{args.names:,} names, size {args.size}, concurrency {args.concurrency}"
        )
        renderer_rate = _renderer_throughput(url, args.names, args.concurrency, args.size)
        print(f"renderer alone:           {renderer_rate:8.1f} ids/s")

        with tempfile.TemporaryDirectory() as directory:
            results = []
            for label, dnmonster_url in (("http", url), ("builtin", "")):
                monsters_cache.clear()  # flushes db 12 only: the bench's own
                settings.DNMONSTER_URL = dnmonster_url
                names = _names_file(directory, label, args.names)
                before = Generation.objects.count()
                seconds, summary = _warm(names, args.concurrency, args.size)
                recorded = Generation.objects.count() - before
                assert recorded == args.names, f"{recorded} audit rows for {args.names} names"
                rate = args.names / seconds
                results.append(rate / renderer_rate)
                where = "gunicorn renderer" if dnmonster_url else "built-in, in-process"
                print(
                    f"warm_cache ({where}): {rate:8.1f} names/s  "
                    f"= {rate / renderer_rate:.2f} x renderer   [{summary}]"
                )
    finally:
        _stop(renderer)
        monsters_cache.clear()
    verdict = "met" if results[0] >= TARGET_RATIO else "NOT met"
    print(f"target {TARGET_RATIO} x renderer (over HTTP): {verdict}")


if __name__ == "__main__":
    main()
