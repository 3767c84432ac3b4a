"""Benchmark: `warm_cache` streams its input in constant memory.

Writes files of 10^5 and 10^6 distinct names, runs `manage.py warm_cache --file F` on
each as a child process and prints the child's peak RSS (from wait4's rusage): with
--dry-run (reads, validates, hashes and checks every line against the cache, writes
nothing), and generating for real with the built-in renderer in-process. A 10-line file
gives the floor: a Django process with the command loaded.

Same database and Redis database as bench/warm_bench.py (BENCH_DATABASE_URL,
BENCH_REDIS_URL), which it creates when missing and FLUSHES:

    .venv/bin/python bench/warm_memory.py [--generate 10000 100000]
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import create_database_if_missing  # noqa: E402 - needs ROOT on the path
from bench.results import recorded  # noqa: E402

ENVIRONMENT = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "identidock.settings",
    "DATABASE_URL": os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/identidock_bench"
    ),
    "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
    "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-key"),
    "LOG_LEVEL": "WARNING",
}
ENVIRONMENT.pop("DNMONSTER_URL", None)


def _manage(*args: str) -> tuple[int, float, float]:
    """Run manage.py; (exit status, seconds, peak RSS in MiB) of that one child."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=ENVIRONMENT, stdout=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, time.perf_counter() - started, usage.ru_maxrss / 1024


def _names_file(directory: str, count: int) -> Path:
    token = secrets.token_hex(8)
    path = Path(directory) / f"names-{count}.txt"
    with path.open("w") as out:
        for start in range(0, count, 100_000):
            out.write(
                "".join(f"memory {token} {n}\n" for n in range(start, min(count, start + 100_000)))
            )
    return path


def _flush_cache() -> None:
    code = "from django.core.cache import caches; caches['monsters'].clear()"
    _manage("shell", "-c", code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--generate",
        type=int,
        nargs="*",
        default=[10_000, 100_000],
        help="line counts to also warm for real with the built-in renderer",
    )
    args = parser.parse_args()
    create_database_if_missing(ENVIRONMENT["DATABASE_URL"])
    _manage("migrate", "--verbosity=0")
    print(f"{'lines':>9}  {'mode':<22} {'exit':>4} {'seconds':>8} {'peak RSS':>9}")
    with tempfile.TemporaryDirectory() as directory:
        runs = [(n, "--dry-run") for n in (10, 100_000, 1_000_000)]
        runs += [(n, "generate (built-in)") for n in args.generate]
        for lines, mode in runs:
            names = _names_file(directory, lines)
            _flush_cache()
            extra = ["--dry-run"] if mode == "--dry-run" else []
            status, seconds, rss = _manage("warm_cache", "--file", str(names), *extra)
            print(f"{lines:>9,}  {mode:<22} {status:>4} {seconds:>8.1f} {rss:>6.1f} MiB")
    _flush_cache()


if __name__ == "__main__":
    with recorded("warm_memory"):
        main()
