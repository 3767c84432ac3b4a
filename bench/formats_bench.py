"""Benchmark: each image format's hit and miss, through Identidock under gunicorn.conf.py.

Starts, each on a free port on 127.0.0.1 under gunicorn.conf.py (its defaults: gthread,
2 x cores + 1 workers, 4 threads, keep-alive) with GUNICORN_MAX_REQUESTS=0 (recycling
a worker every ~1,000 requests would measure imports rather than requests):

- the ceiling: bench/renderer_ceiling.py, a bare WSGI app answering one fixed 80 px PNG;
- Identidock itself (`identidock.wsgi`: the fast layer in front of Django) with the
  built-in renderer, its Redis and PostgreSQL, and rate limits raised out of the way.

Then `wrk -t2 -c16` asks for each row for --seconds, in --rounds that alternate between
the rows so that all see the same drift in the load of a shared machine:

- `<format> hit`: one cached monster over and over (`/monster/<hash>.<ext>?size=N&v=`),
  answered by the fast layer from the process's own tier;
- `<format> miss`: a new hash every request (a per-run token, the wrk thread and a
  counter), so each one renders, goes into Redis and writes an audit row.

It prints req/s, p50 and p99 latency, errors, the ratio to the ceiling's req/s (each
round's ratio to that round's ceiling, then the median) and the server's CPU time per
request (every gunicorn process, the most stable figure on a busy machine; Redis and
PostgreSQL are not counted), and the size of one monster in each format. Needs `wrk`
(apt-get install wrk).

Uses a database and a Redis database of its own, which it creates when missing, migrates
and FLUSHES: BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/identidock_bench) and BENCH_REDIS_URL (default
redis://127.0.0.1:6379/14):

    .venv/bin/python bench/formats_bench.py [--seconds 5] [--rounds 3] [--size 80]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import create_database_if_missing  # noqa: E402
from bench.results import recorded  # noqa: E402
from bench.server_processes import medians, ratios_to_ceiling, wrk_run
from bench.server_processes import stop as _stop  # noqa: E402

PYTHON = sys.executable
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/identidock_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
FORMATS = ("png", "svg", "webp")
CEILING_ID = "formats-bench-ceiling"
HIT_HASH = "f0" * 32

# Every request a new 64-hex-digit hash: 46 digits of token, the wrk thread, a counter.
WRK_MISS_SCRIPT = """
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  counter = 0
end

function request()
  counter = counter + 1
  local name_hash = string.format("%%s%%02x%%016x", "%(token)s", tid, counter)
  return wrk.format("GET", "/monster/" .. name_hash .. ".%(fmt)s?size=%(size)d")
end
""".strip()

WRK_REPORT = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(extra: dict[str, str]) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "GUNICORN_MAX_REQUESTS": "0",
        "SECRET_KEY": "formats-bench-only",
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        # Every miss is a new monster from one client: the limits would measure 429s.
        "RATE_LIMIT_MISSES_PER_MINUTE": "100000000",
        "RATE_LIMIT_MISS_BURST": "100000000",
        **extra,
    }
    for name in ("DNMONSTER_URL", "DNMONSTER_REVISION", "GUNICORN_CONTROL_SOCKET", "DEBUG"):
        env.pop(name, None)
    return env


def _start(module: str, probe: str, extra: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    command = [PYTHON, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")]
    command += ["--bind", f"127.0.0.1:{port}", module]
    # The config logs every request to stdout, as in production: keep it out of the figures.
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=_environment(extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{module} exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url + probe, timeout=2):  # noqa: S310 - our own server
                return process, url
        except OSError:
            time.sleep(0.2)
    _stop(process)
    raise SystemExit(f"{module} did not start within 60 s")


def _fresh_stores() -> str:
    """Migrate the bench's database, empty its Redis database; the art's revision."""
    os.environ.update(_environment({"DJANGO_SETTINGS_MODULE": "identidock.settings"}))
    for name in ("DNMONSTER_URL", "DNMONSTER_REVISION"):  # the built-in renderer's art
        os.environ.pop(name, None)
    os.environ["DATABASE_STATEMENT_TIMEOUT_MS"] = "0"
    sys.path.insert(0, str(ROOT))
    create_database_if_missing(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.cache import caches
    from django.core.management import call_command
    from django.db import OperationalError

    from monsters.images import keys

    try:
        call_command("migrate", verbosity=0)
    except OperationalError as exc:
        raise SystemExit(f"set BENCH_DATABASE_URL to a database to use: {exc}") from None
    caches["monsters"].clear()  # the bench's own Redis database only
    return keys.current_revision()


def _scripts(directory: Path, revision: str, size: int) -> dict[str, Path]:
    scripts = {}
    token = secrets.token_hex(23)  # 46 hex digits
    for fmt in FORMATS:
        hit = directory / f"{fmt}-hit.lua"
        path = f"/monster/{HIT_HASH}.{fmt}?size={size}&v={revision}"
        hit.write_text(f'wrk.path = "{path}"\n{WRK_REPORT}')
        miss = directory / f"{fmt}-miss.lua"
        miss.write_text(WRK_MISS_SCRIPT % {"token": token, "fmt": fmt, "size": size} + WRK_REPORT)
        scripts[f"{fmt} hit"], scripts[f"{fmt} miss"] = hit, miss
    ceiling = directory / "ceiling.lua"
    ceiling.write_text(WRK_REPORT)
    return {"ceiling": ceiling, **scripts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--size", type=int, default=80)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    revision = _fresh_stores()
    import renderer

    sizes = {
        "png": len(renderer.render(HIT_HASH, args.size)),
        "svg": len(renderer.render_svg(HIT_HASH, args.size)),
        "webp": len(renderer.render_webp(HIT_HASH, args.size)),
    }
    processes: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        ceiling_png = directory / "ceiling.png"
        ceiling_png.write_bytes(renderer.render(CEILING_ID, 80))
        scripts = _scripts(directory, revision, args.size)
        try:
            ceiling = _start(
                "bench.renderer_ceiling:app", "/", {"RENDERER_CEILING_PNG": str(ceiling_png)}
            )
            processes.append(ceiling[0])
            identidock = _start("identidock.wsgi", "/healthz", {})
            processes.append(identidock[0])
            servers = {row: identidock for row in scripts}
            servers["ceiling"] = ceiling
            print(
                f"gunicorn -c gunicorn.conf.py (GUNICORN_MAX_REQUESTS=0), built-in renderer, "
                f"Redis {REDIS_URL}, PostgreSQL {DATABASE_URL.rsplit('/', 1)[-1]}; wrk "
                f"-t{args.threads} -c{args.connections} -d{args.seconds}s, size {args.size}, "
                f"{args.rounds} rounds; ceiling: one fixed 80 px PNG from a bare WSGI app"
            )
            for fmt in FORMATS:  # the hit rows' monster, cached; and every worker warmed up
                urllib.request.urlopen(  # noqa: S310 - our own server
                    f"{identidock[1]}/monster/{HIT_HASH}.{fmt}?size={args.size}&v={revision}",
                    timeout=30,
                ).read()
            for row, script in scripts.items():
                process, url = servers[row]
                wrk_run(
                    url,
                    process,
                    script,
                    seconds=1,
                    threads=args.threads,
                    connections=args.connections,
                    request_timeout="10s",
                )
            runs: dict[str, list[dict]] = {row: [] for row in scripts}
            for number in range(1, args.rounds + 1):
                line = [f"round {number}:"]
                for row, script in scripts.items():
                    process, url = servers[row]
                    result = wrk_run(
                        url,
                        process,
                        script,
                        seconds=args.seconds,
                        threads=args.threads,
                        connections=args.connections,
                        request_timeout="10s",
                    )
                    runs[row].append(result)
                    line.append(f"{row} {result['rps']:.0f}/s")
                print("  ".join(line), flush=True)
        finally:
            for process in processes:
                _stop(process)

    ratios = ratios_to_ceiling(runs)
    print(
        f"\n{'':12} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'x ceiling':>10}"
        f" {'server CPU ms/req':>18} {'bytes':>6}"
    )
    for row, results in runs.items():
        rps, p50, p99, cpu = medians(results)
        errors = sum(run["errors"] for run in results)
        size = sizes.get(row.split()[0], "")
        print(
            f"{row:12} {rps:8.0f} {p50:8.2f} {p99:8.2f} {errors:7d} {ratios[row]:10.2f}"
            f" {cpu:18.3f} {size:>6}"
        )


if __name__ == "__main__":
    with recorded("formats_bench"):
        main()
