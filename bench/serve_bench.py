"""Benchmark: how close does a cached monster get to what gunicorn itself can serve?

Starts four servers under the shipped gunicorn.conf.py on 127.0.0.1, each exactly as
`gunicorn -c gunicorn.conf.py --bind 127.0.0.1:PORT APP` (every GUNICORN_* variable of
this environment passes through, so `GUNICORN_ACCESS_LOG=off make bench` compares):

- the renderer (`renderer.wsgi:app`, as compose's `dnmonster` service);
- Identidock (`identidock.wsgi`), with DNMONSTER_URL pointing at that renderer, as in
  compose, against the local PostgreSQL and Redis;
- the ceiling (`bench/ceiling_app.py`): a bare WSGI app answering one recorded cache hit
  of Identidock's, the same PNG bytes and headers;
- the miss floor (`bench/miss_floor_app.py`): a bare WSGI app that asks that renderer
  and SETs the bytes in Redis, nothing else: the least a miss costs in Python here.

It fetches the home page once and takes the monster URL's form from its <img src> (adding
`v=<revision>` when the page does not carry it yet), warms 1,000 hashes over HTTP,
recording each ETag, and then runs wrk in interleaved rounds (A B C ... A B C ...) over
these scenarios, printing one table of req/s, p50 and p99, the ratio of each to the
ceiling, and PASS/FAIL against the performance targets. It also reports the servers' CPU
time per request, which what else runs on the machine disturbs far less than req/s:

    ceiling        the bare WSGI app, rotating over the same 1,000 paths
    hit            GET of a cached monster, rotating over the 1,000 versioned URLs
    hit, Redis     the same with the in-process tier off (--redis-only-env; without it,
                   the same server again: then there is no in-process tier to turn off)
    304            the same URLs with If-None-Match: each path's own ETag
    Django floor   GET /healthz: Django's whole request cycle and middleware around a
                   view that does nothing, the least any request Django answers costs
                   (the page and every miss go through it)
    page GET       GET / (a first visit: no cookie)
    page POST      POST / with the CSRF cookie and token, rotating over 1,000 names
    renderer       the renderer's own gunicorn, a new id every request
    miss           Identidock, a new hash every request (cache GET, renderer, SET, audit)
    miss floor     the miss floor app, a new hash every request (renderer, SET)

Last, it reads VmRSS of every Identidock worker before and after --rss-hits cache hits.
Raw wrk output, the Lua scripts, the servers' error logs and results.json go to
var/bench/serve-<time>/. The targets are informational: the exit status is 0 unless the
harness itself failed.

Uses a database and a Redis database of its own, which it creates, migrates and FLUSHES:
SERVE_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/identidock_serve_bench)
and SERVE_BENCH_REDIS_URL (default redis://127.0.0.1:6379/10). Needs wrk (apt-get install
wrk). About 3 to 4 minutes with the defaults:

    .venv/bin/python bench/serve_bench.py [--duration 5] [--rounds 2] [--connections 32]
        [--threads 2] [--hashes 1000] [--rss-hits 100000] [--rss-max-seconds 100]
        [--redis-only-env NAME=VALUE]
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import math
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from renderer import RENDERER_VERSION
from scripts.stack.ports import free_port  # noqa: E402

VENV_BIN = Path(sys.executable).parent
GUNICORN = VENV_BIN / "gunicorn"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/identidock_serve_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/10"
OUTPUT_ROOT = ROOT / "var" / "bench"
HOST = "127.0.0.1"
SIZE = 80
HEX64 = re.compile(r"[0-9a-f]{64}")
START_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 40  # above gunicorn's graceful timeout
WRK_TIMEOUT = "10s"  # a slow response is measured, not dropped as an error
# Headers that belong to the server and the connection, not to the recorded response.
# Set in the bench's Redis database once it is warm: gone means something emptied it.
WARM_MARK = "serve_bench:warm"
HOP_HEADERS = {"date", "server", "connection", "keep-alive", "transfer-encoding"}

# The targets (the issue "Fast: serve a cached monster at close to what the web server
# itself can do"), as ratios of req/s measured in the same run.
HIT_P99_OVER_P50 = 3.0
RSS_LIMIT_MB = 80.0
RSS_FLAT = 0.05


# --- Results -------------------------------------------------------------------------


@dataclass
class WrkRun:
    """One wrk run, from the numbers our Lua `done()` prints (and wrk's own text)."""

    requests: int
    seconds: float
    errors: dict[str, int]
    latency_us: Counter[int]
    server_cpu_seconds: float = 0.0  # all our servers together, measured around the run
    audit_rows: int = 0  # generations recorded during the run: one per cache miss

    @classmethod
    def parse(cls, output: str) -> WrkRun:
        summary = re.search(r"^serve_bench: (requests=.*)$", output, re.MULTILINE)
        latency = re.search(r"^serve_bench: latency_us(.*)$", output, re.MULTILINE)
        if not summary or not latency:
            raise RuntimeError(f"wrk printed no results:\n{output[-2000:]}")
        fields = dict(item.split("=") for item in summary.group(1).split())
        histogram: Counter[int] = Counter()
        for pair in latency.group(1).split():
            value, count = pair.split(":")
            histogram[int(value)] += int(count)
        errors = {
            name: int(fields[name]) for name in ("connect", "read", "write", "status", "timeout")
        }
        return cls(
            requests=int(fields["requests"]),
            seconds=int(fields["duration_us"]) / 1e6,
            errors=errors,
            latency_us=histogram,
        )


@dataclass
class Measured:
    """All rounds of one scenario together: req/s over the summed time, merged latencies."""

    runs: list[WrkRun] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(run.requests for run in self.runs)

    @property
    def rate(self) -> float:
        seconds = sum(run.seconds for run in self.runs)
        return self.requests / seconds if seconds else 0.0

    @property
    def errors(self) -> int:
        return sum(sum(run.errors.values()) for run in self.runs)

    @property
    def audit_rows(self) -> int:
        return sum(run.audit_rows for run in self.runs)

    @property
    def cpu_us(self) -> float:
        """Server CPU per request, microseconds: far less sensitive than req/s to what
        else the machine runs."""
        requests = self.requests
        return (
            sum(run.server_cpu_seconds for run in self.runs) / requests * 1e6 if requests else 0.0
        )

    def percentile_ms(self, percent: float) -> float:
        merged: Counter[int] = Counter()
        for run in self.runs:
            merged.update(run.latency_us)
        total = sum(merged.values())
        if not total:
            return math.nan
        wanted = total * percent / 100
        seen = 0
        for value in sorted(merged):
            seen += merged[value]
            if seen >= wanted:
                return value / 1000
        return max(merged) / 1000


# --- Servers -------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    app: str
    port: int
    popen: subprocess.Popen
    logs: tuple[Path, Path]  # stdout (the access log), stderr (gunicorn's own log)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def workers(self) -> list[int]:
        """The worker processes: the gunicorn master's children."""
        children = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                text = status.read_text()
            except OSError:  # gone meanwhile
                continue
            parent = re.search(r"^PPid:\s+(\d+)", text, re.MULTILINE)
            if parent and int(parent.group(1)) == self.popen.pid:
                children.append(int(status.parent.name))
        return sorted(children)

    def cpu_seconds(self) -> float:
        """CPU time of the master and its workers, the replaced ones included (the master
        has reaped them, so their time is in its cutime and cstime)."""
        return _cpu_seconds(self.popen.pid, children=True) + sum(
            _cpu_seconds(pid) for pid in self.workers()
        )

    def stop(self) -> None:
        """SIGTERM, as `docker stop` sends; SIGKILL only if it does not drain in time."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


def _cpu_seconds(pid: int, children: bool = False) -> float:
    """utime + stime (and cutime + cstime with `children`) from /proc/<pid>/stat."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # exited meanwhile: its time goes to the master's children
        return 0.0
    fields = text.rpartition(")")[2].split()  # after "pid (comm)": field 3 is fields[0]
    ticks = sum(int(value) for value in fields[11 : 15 if children else 13])
    return ticks / os.sysconf("SC_CLK_TCK")


def _connect(database_url: str, dbname: str | None = None):
    import psycopg2

    parts = urlsplit(database_url)
    return psycopg2.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password,
        dbname=dbname or parts.path.lstrip("/"),
        connect_timeout=5,
    )


def _audit_rows(database_url: str) -> int:
    """Rows in the audit log: each is a generation, so a cache miss."""
    connection = _connect(database_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM monsters_generation")
            return cursor.fetchone()[0]
    finally:
        connection.close()


def _rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else math.nan


def _start_server(
    name: str, app: str, environment: dict[str, str], directory: Path, ready_path: str
) -> Server:
    port = free_port()
    command = [str(GUNICORN), "-c", "gunicorn.conf.py", "--bind", f"{HOST}:{port}", app]
    logs = (directory / f"{name}.access.log", directory / f"{name}.error.log")
    with logs[0].open("wb") as stdout, logs[1].open("wb") as stderr:
        popen = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=stdout, stderr=stderr)
    server = Server(name=name, app=app, port=port, popen=popen, logs=logs)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise RuntimeError(
                f"{name} exited with {popen.returncode} while starting:\n"
                + logs[1].read_text(errors="replace")[-2000:]
            )
        try:
            if requests.get(server.url + ready_path, timeout=1).status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{name} did not answer {ready_path} within {START_TIMEOUT_SECONDS} s")


def _base_environment() -> dict[str, str]:
    """What the image provides, plus the GUNICORN_* tuning of this environment (none by
    default: the file's defaults). Nothing else of the caller's settings leaks in."""
    environment = {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    environment["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"
    for name, value in os.environ.items():
        if name in {"HOME", "LANG", "LC_ALL", "TZ"} or name.startswith("GUNICORN_"):
            environment[name] = value
    return environment


def _app_environment(database_url: str, redis_url: str, renderer_url: str) -> dict[str, str]:
    """Identidock's settings as docker-compose.yml gives them, pointed at local servers."""
    return {
        **_base_environment(),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "false",
        "ALLOWED_HOSTS": HOST,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DNMONSTER_URL": renderer_url,
        # compose's value for our renderer (a test keeps the two in step)
        "DNMONSTER_REVISION": f"identidock-r{RENDERER_VERSION}",
        # wrk is one client: the per-client limits on renders and names would answer
        # most of its misses and POSTs with 429. The bench measures their cost, not them.
        "RATE_LIMIT_MISSES_PER_MINUTE": "100000000",
        "RATE_LIMIT_MISS_BURST": "100000000",
        "RATE_LIMIT_NAMES_PER_MINUTE": "100000000",
        "RATE_LIMIT_NAME_BURST": "100000000",
    }


def _prepare_storage(environment: dict[str, str]) -> None:
    """Create the bench database when missing, migrate it, collect static files (the
    image's build step) and empty the bench's Redis database."""
    from psycopg2 import sql

    name = urlsplit(environment["DATABASE_URL"]).path.lstrip("/")
    server = _connect(environment["DATABASE_URL"], dbname="postgres")
    try:
        server.autocommit = True
        with server.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        server.close()
    python = str(VENV_BIN / "python")
    for command in (
        [python, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
        [python, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
    ):
        subprocess.run(command, cwd=ROOT, env=environment, check=True, timeout=300)
    _flush_redis(environment["REDIS_URL"])


# --- Lua scripts for wrk -------------------------------------------------------------

LUA_COMMON = """
-- serve_bench: each thread learns its number; done() prints the totals and the whole
-- latency histogram, so that rounds can be merged exactly.
local thread_count = 0
function setup(thread)
  thread:set("thread_number", thread_count)
  thread_count = thread_count + 1
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "serve_bench: requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout))
  local parts = {}
  for i = 1, #latency do
    local value, count = latency(i)
    parts[#parts + 1] = string.format("%d:%d", value, count)
  end
  io.write("serve_bench: latency_us ", table.concat(parts, " "), "\\n")
end
"""

LUA_ROTATE = """
-- Rotate over prepared requests; each thread starts at its own place in the rotation.
local prepared = {}
local position = 0
function init(args)
  for i, item in ipairs(items) do
    prepared[i] = wrk.format(item[1], item[2], item[3], item[4])
  end
  position = (thread_number * 389) % #prepared
end

function request()
  position = position % #prepared + 1
  return prepared[position]
end
"""

LUA_FRESH = """
-- A path never asked for before on every request: prefix (fresh per run and round),
-- thread number and a counter make up the id.
local counter = 0
local thread_hex
function init(args)
  thread_hex = string.format("%08x", thread_number)
end

function request()
  counter = counter + 1
  return wrk.format("GET", "/monster/" .. prefix .. thread_hex .. string.format("%016x", counter)
    .. query)
end
"""


def _lua(value: object) -> str:
    """A Lua literal for strings, numbers, None, lists and dicts of them."""
    if value is None:
        return "nil"
    if isinstance(value, str):
        if not value.isascii() or not value.isprintable():
            raise ValueError(f"not a safe Lua string: {value!r}")
        return json.dumps(value)  # ASCII with \\ and \" escapes: valid Lua too
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "{" + ",\n  ".join(_lua(item) for item in value) + "}"
    raise TypeError(type(value))


def rotate_script(items: list[tuple[str, str, dict[str, str] | None, str | None]]) -> str:
    """(method, path, headers, body) requests, sent in rotation."""
    return f"items = {_lua(items)}\n" + LUA_ROTATE + LUA_COMMON


def fresh_script(prefix: str, query: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{40}", prefix):
        raise ValueError("the prefix is 40 hex digits: with 8 + 16 more, a 64-hex hash")
    return f"prefix = {_lua(prefix)}\nquery = {_lua(query)}\n" + LUA_FRESH + LUA_COMMON


def run_wrk(
    url: str, script: str, *, seconds: int, connections: int, threads: int, raw: Path
) -> WrkRun:
    """One bounded wrk run; its script and raw output are kept beside each other."""
    script_path = raw.with_suffix(".lua")
    script_path.write_text(script)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        WRK_TIMEOUT,
        "--latency",
        "-s",
        str(script_path),
        url,
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    raw.write_text(f"$ {' '.join(command)}\n{result.stdout}{result.stderr}")
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr[-1000:]}")
    return WrkRun.parse(result.stdout)


# --- The site, seen as a client ------------------------------------------------------


@dataclass
class Site:
    """What a client learns from Identidock's home page."""

    monster_query: str  # e.g. "?size=80&v=identidock-r1"
    csrf_cookie: str
    csrf_token: str


def read_home_page(base_url: str, revision: str) -> Site:
    """GET / once, as a first visitor: see `parse_home_page`."""
    response = requests.get(base_url + "/", timeout=10)
    response.raise_for_status()
    return parse_home_page(response.text, response.cookies.get("csrftoken"), revision)


def parse_home_page(page: str, csrf_cookie: str | None, revision: str) -> Site:
    """The monster URL's form from the page's <img src>, and the CSRF cookie and token.

    The query is the page's, at size=80; a page that does not put `v` in its URLs yet
    gets `v=<revision>` (computed as the app does: DNMONSTER_REVISION, the renderer being
    over HTTP), so hits and 304s always use a versioned URL.
    """
    sources = [html.unescape(src) for src in re.findall(r'<img[^>]*\ssrc="([^"]+)"', page)]
    monsters = [urlsplit(src) for src in sources if urlsplit(src).path.startswith("/monster/")]
    if not monsters:
        raise RuntimeError(f"no <img src=/monster/...> on the home page; found {sources}")
    if not HEX64.fullmatch(monsters[0].path.removeprefix("/monster/")):
        raise RuntimeError(f"unexpected monster URL on the home page: {monsters[0].geturl()}")
    query = dict(parse_qsl(monsters[0].query, keep_blank_values=True))
    query["size"] = str(SIZE)
    query.setdefault("v", revision)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if not token or not csrf_cookie:
        raise RuntimeError("the home page set no CSRF cookie or form token")
    return Site(
        monster_query="?" + urlencode(query),
        csrf_cookie=f"csrftoken={csrf_cookie}",
        csrf_token=token.group(1),
    )


def bench_hashes(count: int) -> list[str]:
    """The same `count` hashes every run (the Redis database is flushed first)."""
    import hashlib

    return [hashlib.sha256(f"serve-bench {n}".encode()).hexdigest() for n in range(count)]


def warm(base_url: str, paths: list[str], concurrency: int = 8) -> dict[str, str]:
    """GET every path once (each a miss: rendered, cached, recorded); their ETags."""
    local = threading.local()

    def fetch(path: str) -> tuple[str, str]:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        response = local.session.get(base_url + path, timeout=30, allow_redirects=False)
        if response.status_code != 200 or response.headers.get("Content-Type") != "image/png":
            raise RuntimeError(
                f"warming {path}: {response.status_code} {response.headers.get('Location', '')}"
            )
        return path, response.headers["ETag"]

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return dict(pool.map(fetch, paths))


def record_ceiling(base_url: str, path: str, destination: Path) -> int:
    """One cache hit of Identidock's, status, headers and bytes, for the ceiling app."""
    for _ in range(3):  # a miss stores the entry again: the next try is a hit
        response = requests.get(base_url + path, timeout=10)
        if response.status_code == 200 and response.headers.get("X-Cache") == "HIT":
            break
    else:
        raise RuntimeError(
            f"expected a cache hit at {path}: {response.status_code} "
            f"X-Cache: {response.headers.get('X-Cache')}"
        )
    headers = [[k, v] for k, v in response.headers.items() if k.lower() not in HOP_HEADERS]
    destination.write_text(
        json.dumps(
            {
                "status": f"{response.status_code} {response.reason}",
                "headers": headers,
                "body": base64.b64encode(response.content).decode(),
            }
        )
    )
    return len(response.content)


def check(label: str, response: requests.Response, status: int, **headers: str) -> str:
    """One request of a scenario, checked before wrk sends thousands like it."""
    if response.status_code != status:
        raise RuntimeError(f"{label}: expected {status}, got {response.status_code}")
    for name, value in headers.items():
        actual = response.headers.get(name.replace("_", "-"), "")
        if actual != value:
            raise RuntimeError(f"{label}: expected {name}: {value}, got {actual!r}")
    return f"{label} {response.status_code}"


# --- Scenarios -----------------------------------------------------------------------


@dataclass
class Scenario:
    key: str
    label: str
    server: Server
    script: Callable[[], str]  # called once per run: fresh scripts need fresh prefixes


@dataclass
class Target:
    """A ratio to meet: `value(measured)` against `minimum`, printed beside the row."""

    scenario: str
    text: str
    check: Callable[[dict[str, Measured]], tuple[bool, str, str]]  # passed, value, note


def ratio_target(scenario: str, minimum: float, over: str = "ceiling") -> Target:
    def _check(results: dict[str, Measured]) -> tuple[bool, str, str]:
        ratio = results[scenario].rate / results[over].rate
        return ratio >= minimum, f"{ratio:.2f}", ""

    name = "ceiling" if over == "ceiling" else "renderer"
    return Target(scenario, f">= {minimum:.2f} x {name}", _check)


def hit_tail_target() -> Target:
    def _check(results: dict[str, Measured]) -> tuple[bool, str, str]:
        def tail(measured: Measured) -> float:
            return measured.percentile_ms(99) / measured.percentile_ms(50)

        # The ceiling's own tail is the machine's: a noisy host shows there first.
        hit = tail(results["hit"])
        note = f" (the ceiling's own: {tail(results['ceiling']):.1f})"
        return hit <= HIT_P99_OVER_P50, f"{hit:.1f}", note

    return Target("hit", f"p99 <= {HIT_P99_OVER_P50:g} x p50", _check)


# Scenarios that must never miss the cache once it is warm.
CACHED = ("hit", "hit_redis", "not_modified")

TARGETS = [
    ratio_target("hit", 0.8),
    hit_tail_target(),
    ratio_target("hit_redis", 0.5),
    ratio_target("not_modified", 0.9),
    ratio_target("page_get", 0.5),
    ratio_target("page_post", 0.3),
    ratio_target("renderer", 0.4),
    ratio_target("miss", 0.5, over="renderer"),
]


def render_table(scenarios: list[Scenario], results: dict[str, Measured]) -> list[str]:
    ceiling = results["ceiling"].rate
    lines = [
        f"{'scenario':<30} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
        f"{'CPU us/req':>10} {'x ceiling':>9}   target",
    ]
    for scenario in scenarios:
        measured = results[scenario.key]
        row = (
            f"{scenario.label:<30} {measured.rate:>9,.0f} {measured.percentile_ms(50):>8.2f} "
            f"{measured.percentile_ms(99):>8.2f} {measured.errors:>7,} "
            f"{measured.cpu_us:>10,.0f} {measured.rate / ceiling:>9.2f}"
        )
        verdicts = []
        for target in TARGETS:
            if target.scenario == scenario.key:
                passed, value, note = target.check(results)
                verdicts.append(f"{target.text}: {value} {'PASS' if passed else 'FAIL'}{note}")
        lines.append(row + ("   " + "; ".join(verdicts) if verdicts else ""))
    cached = [s for s in scenarios if s.key in CACHED]
    misses = ", ".join(f"{s.key} {results[s.key].audit_rows:,}" for s in cached)
    lines.append(
        f"Audit rows (one per cache miss) written during: {misses}; miss "
        f"{results['miss'].audit_rows:,} (wrk counted {results['miss'].requests:,} replies)."
        if "miss" in results
        else f"Audit rows (one per cache miss) written during: {misses}."
    )
    if any(results[s.key].audit_rows for s in cached):
        lines.append(
            "WARNING: hits were misses: something emptied the bench's Redis database during "
            "the run, so those rows measured misses too."
        )
    lines.append(
        "CPU us/req: CPU time of the servers (gunicorn masters and workers: renderer, "
        "Identidock, ceiling) per request, wrk's not counted; req/s, p50 and p99 over all "
        "rounds together."
    )
    return lines


def django_bound_lines(
    results: dict[str, Measured], *, redis_trip_measured: bool = True
) -> list[str]:
    """The best the page and the miss could do while Django answers them, from this
    run's CPU per request (req/s follows CPU here: every server shares the same cores).

    Whatever Django answers costs at least the floor (GET /healthz). A POST adds at
    least one Redis round trip (its rate limit): what a hit costs more without the
    in-process tier, known only when a server ran without it (`redis_trip_measured`).
    A miss adds at least the renderer's own request."""
    needed = ("ceiling", "hit", "hit_redis", "django_floor", "renderer")
    if not all(key in results and results[key].cpu_us for key in needed):
        return []
    ceiling, floor = results["ceiling"].cpu_us, results["django_floor"].cpu_us
    redis_trip = max(results["hit_redis"].cpu_us - results["hit"].cpu_us, 0.0)
    renderer = results["renderer"].cpu_us
    post = (
        f"  page POST: the floor plus one Redis round trip ({redis_trip:,.0f} us): at most "
        f"{ceiling / (floor + redis_trip):.2f} x ceiling (target 0.30);"
        if redis_trip_measured
        else f"  page POST: the floor plus one Redis round trip (not measured without "
        f"--redis-only-env): less than {ceiling / floor:.2f} x ceiling (target 0.30);"
    )
    return [
        "Bounds through Django, from CPU us/req: the least any request Django answers "
        f"costs is the floor's {floor:,.0f} us, {ceiling / floor:.2f} x ceiling;",
        f"  page GET: at most {ceiling / floor:.2f} x ceiling (target 0.50);",
        post,
        f"  miss: the floor plus the renderer's {renderer:,.0f} us: at most "
        f"{renderer / (floor + renderer):.2f} x renderer (target 0.50).",
        *miss_floor_lines(results),
    ]


def miss_floor_lines(results: dict[str, Measured]) -> list[str]:
    """What the bare miss (renderer and SET, in a bare app) reached: the most any miss
    answered in Python reaches here, whatever framework it runs in."""
    if "miss_floor" not in results or not results["renderer"].rate:
        return []
    floor, renderer = results["miss_floor"], results["renderer"]
    return [
        f"  the bare miss (renderer and SET, no Django, no checks): {floor.rate:,.0f} req/s, "
        f"{floor.rate / renderer.rate:.2f} x renderer, {floor.cpu_us:,.0f} us of CPU "
        "(renderer's included): the most a miss reaches here without Django."
    ]


# --- Memory --------------------------------------------------------------------------


def rss_lines(
    before: dict[int, float], after: dict[int, float], hits: int, seconds: float
) -> list[str]:
    def summary(rss: dict[int, float]) -> str:
        values = ", ".join(f"{pid}: {mb:.1f}" for pid, mb in sorted(rss.items()))
        return (
            f"mean {sum(rss.values()) / len(rss):.1f} MB, max {max(rss.values()):.1f} MB ({values})"
        )

    mean_before = sum(before.values()) / len(before)
    mean_after = sum(after.values()) / len(after)
    change = (mean_after - mean_before) / mean_before
    replaced = len(set(before) - set(after))
    peak = max(*before.values(), *after.values())
    lines = [
        f"RSS per Identidock worker before {hits:,} hits: {summary(before)}",
        f"RSS per Identidock worker after  {hits:,} hits ({seconds:.0f} s): {summary(after)}",
        f"  workers replaced meanwhile: {replaced} of {len(before)}",
        f"  <= {RSS_LIMIT_MB:.0f} MB per worker: max {peak:.1f} MB "
        f"{'PASS' if peak <= RSS_LIMIT_MB else 'FAIL'}",
        f"  flat (+-{RSS_FLAT:.0%}) over the hits: mean {change:+.1%} "
        f"{'PASS' if abs(change) <= RSS_FLAT and not replaced else 'FAIL'}"
        + (" (workers were replaced: not the same processes)" if replaced else ""),
    ]
    return lines


# --- The run -------------------------------------------------------------------------


@contextmanager
def running(server_factory: Callable[[], Server]) -> Iterator[Server]:
    server = server_factory()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Bench:
    """One run's options, output directory and servers."""

    arguments: argparse.Namespace
    directory: Path
    renderer: Server
    identidock: Server
    redis_only: Server  # `identidock` itself unless --redis-only-env started another
    database_url: str
    redis_url: str
    paths: list[str] = field(default_factory=list)  # the warmed monster URLs
    ceiling: Server | None = None
    miss_floor: Server | None = None
    rewarmed: int = 0

    def warm(self) -> dict[str, str]:
        """Warm every path (their ETags), then mark the Redis database as warm."""
        etags = warm(self.identidock.url, self.paths)
        _redis(self.redis_url).set(WARM_MARK, "1")
        return etags

    def ensure_warm(self) -> None:
        """Warm again if something else emptied the bench's Redis database meanwhile (a
        shared server's other users may have taken the same database number)."""
        if not _redis(self.redis_url).exists(WARM_MARK):
            self.rewarmed += 1
            print("the bench's Redis database was emptied by something else: warming again")
            self.warm()

    def servers(self) -> list[Server]:
        every = [self.renderer, self.identidock, self.redis_only, self.ceiling, self.miss_floor]
        return list({id(s): s for s in every if s is not None}.values())

    def wrk(self, server: Server, script: str, seconds: int, label: str) -> WrkRun:
        cpu_before = sum(s.cpu_seconds() for s in self.servers())
        rows_before = _audit_rows(self.database_url)
        run = run_wrk(
            server.url,
            script,
            seconds=seconds,
            connections=self.arguments.connections,
            threads=self.arguments.threads,
            raw=self.directory / f"{label}.txt",
        )
        run.server_cpu_seconds = sum(s.cpu_seconds() for s in self.servers()) - cpu_before
        run.audit_rows = _audit_rows(self.database_url) - rows_before
        return run


def build_scenarios(bench: Bench, site: Site, paths: list[str], etags: dict[str, str]) -> list:
    """The scenarios in the order each round runs them, each checked with one request."""
    assert bench.ceiling is not None and bench.miss_floor is not None
    identidock, renderer = bench.identidock, bench.renderer
    names = [f"Bench Visitor {n:04d}" for n in range(len(paths))]
    post_headers = {"Cookie": site.csrf_cookie, "Content-Type": "application/x-www-form-urlencoded"}
    post_bodies = [f"csrfmiddlewaretoken={site.csrf_token}&name={quote_plus(n)}" for n in names]
    fresh_hash = f"/monster/{secrets.token_hex(32)}{site.monster_query}"
    fresh_id = f"/monster/{secrets.token_hex(32)}?size={SIZE}"

    checked = [
        check("ceiling", requests.get(bench.ceiling.url + paths[0], timeout=10), 200),
        check("hit", requests.get(identidock.url + paths[1], timeout=10), 200, X_Cache="HIT"),
        check(
            "hit (Redis only)",
            requests.get(bench.redis_only.url + paths[2], timeout=10),
            200,
            X_Cache="HIT",
        ),
        check(
            "304",
            requests.get(
                identidock.url + paths[3], headers={"If-None-Match": etags[paths[3]]}, timeout=10
            ),
            304,
        ),
        check("Django floor", requests.get(identidock.url + "/healthz", timeout=10), 200),
        check("page GET", requests.get(identidock.url + "/", timeout=10), 200),
        check(
            "page POST",
            requests.post(
                identidock.url + "/", data=post_bodies[0], headers=post_headers, timeout=10
            ),
            200,
        ),
        check(
            "renderer",
            requests.get(renderer.url + fresh_id, timeout=10),
            200,
            Content_Type="image/png",
        ),
        check("miss", requests.get(identidock.url + fresh_hash, timeout=10), 200, X_Cache="MISS"),
        check(
            "miss floor",
            requests.get(bench.miss_floor.url + fresh_id, timeout=10),
            200,
            Content_Type="image/png",
        ),
    ]
    print("checked one request of each: " + ", ".join(checked))

    hits = rotate_script([("GET", path, None, None) for path in paths])
    not_modified = rotate_script([("GET", p, {"If-None-Match": etags[p]}, None) for p in paths])
    django_floor = rotate_script([("GET", "/healthz", None, None)])
    page_get = rotate_script([("GET", "/", None, None)])
    page_post = rotate_script([("POST", "/", post_headers, body) for body in post_bodies])
    redis_only_label = "hit, Redis only" + (
        "" if bench.redis_only is not identidock else " (same server)"
    )
    return [
        Scenario("ceiling", "ceiling (bare WSGI app)", bench.ceiling, lambda: hits),
        Scenario("hit", "hit", identidock, lambda: hits),
        Scenario("hit_redis", redis_only_label, bench.redis_only, lambda: hits),
        Scenario("not_modified", "304 (If-None-Match)", identidock, lambda: not_modified),
        Scenario("django_floor", "Django floor (GET /healthz)", identidock, lambda: django_floor),
        Scenario("page_get", "page GET", identidock, lambda: page_get),
        Scenario("page_post", "page POST", identidock, lambda: page_post),
        Scenario(
            "renderer",
            "renderer direct (new ids)",
            renderer,
            lambda: fresh_script(secrets.token_hex(20), f"?size={SIZE}"),
        ),
        Scenario(
            "miss",
            "miss (new hashes)",
            identidock,
            lambda: fresh_script(secrets.token_hex(20), site.monster_query),
        ),
        Scenario(
            "miss_floor",
            "miss floor (bare app)",
            bench.miss_floor,
            lambda: fresh_script(secrets.token_hex(20), f"?size={SIZE}"),
        ),
    ]


def measure(bench: Bench, scenarios: list[Scenario]) -> dict[str, Measured]:
    """An unmeasured warm-up of each server, then the interleaved rounds."""
    warmed: set[str] = set()
    for scenario in scenarios:
        if bench.arguments.warmup and scenario.server.name not in warmed:
            warmed.add(scenario.server.name)
            bench.wrk(
                scenario.server, scenario.script(), bench.arguments.warmup, "warmup-" + scenario.key
            )
    results = {scenario.key: Measured() for scenario in scenarios}
    for number in range(1, bench.arguments.rounds + 1):
        line = []
        for scenario in scenarios:
            if scenario.key in CACHED:
                bench.ensure_warm()
            run = bench.wrk(
                scenario.server,
                scenario.script(),
                bench.arguments.duration,
                f"round{number}-{scenario.key}",
            )
            results[scenario.key].runs.append(run)
            line.append(f"{scenario.key} {run.requests / run.seconds:,.0f}")
        print(f"round {number}: " + "  ".join(line) + " req/s", flush=True)
    return results


def measure_memory(bench: Bench, hits_script: str, hit_rate: float) -> tuple[list[str], dict]:
    """VmRSS of each Identidock worker before and after --rss-hits hits.

    wrk has no request count, so the hits go in runs of whole seconds, each as long as
    the hits still wanted take at the last rate seen, until they are made or
    --rss-max-seconds is spent.
    """
    wanted, budget = bench.arguments.rss_hits, bench.arguments.rss_max_seconds
    made, spent, runs = 0, 0.0, 0
    bench.ensure_warm()
    before = {pid: _rss_mb(pid) for pid in bench.identidock.workers()}
    while made < wanted and spent < budget:
        seconds = min(math.ceil((wanted - made) / hit_rate), 30, math.ceil(budget - spent))
        runs += 1
        run = bench.wrk(bench.identidock, hits_script, max(seconds, 1), f"rss-hits-{runs}")
        made, spent = made + run.requests, spent + run.seconds
        hit_rate = max(run.requests / run.seconds, 1.0)
    time.sleep(0.5)  # a replaced worker's successor has registered by now
    after = {pid: _rss_mb(pid) for pid in bench.identidock.workers()}
    lines = rss_lines(before, after, made, spent)
    if made < wanted:
        lines.insert(2, f"  (only {made:,} of {wanted:,} hits within --rss-max-seconds {budget})")
    return lines, {"before": before, "after": after, "hits": made, "seconds": spent}


def parse_arguments(argv: Iterable[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--hashes", type=int, default=1000, help="warmed hashes to rotate over")
    parser.add_argument("--warmup", type=int, default=2, help="seconds per server, unmeasured")
    parser.add_argument("--rss-hits", type=int, default=100_000)
    parser.add_argument(
        "--rss-max-seconds", type=int, default=100, help="bound on the RSS run's duration"
    )
    parser.add_argument(
        "--redis-only-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="environment that turns the in-process cache tier off, for 'hit, Redis only'",
    )
    parser.add_argument(
        "--keep-access-logs", action="store_true", help="keep the servers' access logs"
    )
    arguments = parser.parse_args(argv)
    if not 1 <= arguments.threads <= arguments.connections:
        parser.error("--threads must be between 1 and --connections")
    if min(arguments.duration, arguments.rounds, arguments.hashes, arguments.rss_hits) < 1:
        parser.error("--duration, --rounds, --hashes and --rss-hits must be at least 1")
    for item in arguments.redis_only_env:
        if "=" not in item:
            parser.error(f"--redis-only-env takes NAME=VALUE, not {item!r}")
    return arguments


def main(argv: Iterable[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    directory = OUTPUT_ROOT / datetime.now().strftime("serve-%Y%m%d-%H%M%S")
    directory.mkdir(parents=True, exist_ok=True)
    database_url = os.environ.get("SERVE_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("SERVE_BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    tuning = {k: v for k, v in sorted(os.environ.items()) if k.startswith("GUNICORN_")}
    started = time.monotonic()
    load_before = os.getloadavg()[0]

    def start(name: str, app: str, environment: dict[str, str], ready: str = "/healthz"):
        return running(lambda: _start_server(name, app, environment, directory, ready))

    with ExitStack() as stack:
        renderer = stack.enter_context(start("renderer", "renderer.wsgi:app", _base_environment()))
        environment = _app_environment(database_url, redis_url, renderer.url)
        _prepare_storage(environment)
        stack.callback(_flush_redis, redis_url)
        identidock = stack.enter_context(start("identidock", "identidock.wsgi", environment))
        redis_only = identidock
        if arguments.redis_only_env:
            extra = dict(item.split("=", 1) for item in arguments.redis_only_env)
            redis_only = stack.enter_context(
                start("identidock-redis-only", "identidock.wsgi", environment | extra)
            )
        site = read_home_page(identidock.url, f"identidock-r{RENDERER_VERSION}")
        paths = [f"/monster/{h}{site.monster_query}" for h in bench_hashes(arguments.hashes)]
        bench = Bench(
            arguments, directory, renderer, identidock, redis_only, database_url, redis_url, paths
        )
        warm_started = time.monotonic()
        etags = bench.warm()
        warm_seconds = time.monotonic() - warm_started
        png_bytes = record_ceiling(identidock.url, paths[0], directory / "ceiling.json")
        ceiling_environment = _base_environment() | {
            "SERVE_BENCH_CEILING": str(directory / "ceiling.json")
        }
        bench.ceiling = stack.enter_context(
            start("ceiling", "bench.ceiling_app:app", ceiling_environment, "/")
        )
        miss_floor_environment = _base_environment() | {
            "MISS_FLOOR_RENDERER": renderer.url,
            "MISS_FLOOR_REDIS": redis_url,
        }
        bench.miss_floor = stack.enter_context(
            start(
                "miss-floor",
                "bench.miss_floor_app:app",
                miss_floor_environment,
                f"/monster/{secrets.token_hex(32)}?size={SIZE}",
            )
        )

        print(
            f"serve_bench: renderer {renderer.url}, identidock {identidock.url}, ceiling "
            f"{bench.ceiling.url}: {len(identidock.workers())} workers each (gunicorn.conf.py; "
            f"GUNICORN_* set: {', '.join(f'{k}={v}' for k, v in tuning.items()) or 'none'})"
        )
        print(
            f"warmed {len(paths):,} hashes in {warm_seconds:.1f} s; monster URLs "
            f"/monster/<hash>{site.monster_query}; the ceiling answers {png_bytes:,} PNG bytes"
        )
        bench.ensure_warm()
        scenarios = build_scenarios(bench, site, paths, etags)
        print(
            f"wrk -t{arguments.threads} -c{arguments.connections} -d{arguments.duration}s, "
            f"{arguments.rounds} interleaved rounds; raw output in {directory.relative_to(ROOT)}/",
            flush=True,
        )
        results = measure(bench, scenarios)
        memory, rss = measure_memory(bench, scenarios[1].script(), results["hit"].rate)

    bounds = django_bound_lines(
        results, redis_trip_measured=bench.redis_only is not bench.identidock
    )
    output = ["", *render_table(scenarios, results), *bounds, "", *memory, ""]
    if bench.rewarmed:
        output.insert(
            -1,
            f"NOTE: something else emptied the bench's Redis database {bench.rewarmed} time(s); "
            "the bench warmed it again each time. SERVE_BENCH_REDIS_URL picks another.",
        )
    output.append(
        f"serve_bench: {time.monotonic() - started:.0f} s in all; load average (1 min) "
        f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, on "
        f"{os.cpu_count()} CPUs; raw wrk output in {directory.relative_to(ROOT)}/"
    )
    print("\n".join(output))
    (directory / "table.txt").write_text("\n".join(output) + "\n")
    summary = {
        "options": vars(arguments),
        "gunicorn_environment": tuning,
        "monster_query": site.monster_query,
        "scenarios": {
            key: {
                "requests": m.requests,
                "req_per_s": m.rate,
                "p50_ms": m.percentile_ms(50),
                "p99_ms": m.percentile_ms(99),
                "errors": m.errors,
                "server_cpu_us_per_request": m.cpu_us,
                "rounds_req_per_s": [run.requests / run.seconds for run in m.runs],
            }
            for key, m in results.items()
        },
        "rss_mb": rss,
        "rewarmed": bench.rewarmed,
    }
    (directory / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    if not arguments.keep_access_logs:
        for log in directory.glob("*.access.log"):
            log.unlink()
    return 0


def _redis(redis_url: str):
    import redis

    return redis.Redis.from_url(redis_url, socket_timeout=5)


def _flush_redis(redis_url: str) -> None:
    _redis(redis_url).flushdb()


if __name__ == "__main__":
    sys.exit(main())
