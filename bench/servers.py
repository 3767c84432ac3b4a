"""The gunicorn servers of the serving benches (hit_bench, page_bench, miss_bench).

Each is started exactly as `gunicorn -c gunicorn.conf.py --bind 127.0.0.1:PORT APP`, on a
free port, with what the image provides plus every GUNICORN_* variable of this
environment (so `GUNICORN_ACCESS_LOG=off make bench` compares), and nothing else:

- the renderer (`RENDERER_APP`, as compose's `dnmonster` service);
- Identidock (`IDENTIDOCK_APP`), its settings as docker-compose.yml gives them, pointed at
  that renderer, the local PostgreSQL and Redis, the per-client rate limits out of the
  way (wrk is one client: the benches measure what a request costs, not the limits);
- the ceiling (bench/ceiling_app.py): a bare WSGI app answering one recorded cache hit;
- the bare miss (bench/miss_floor_app.py): a bare WSGI app that asks the renderer and SETs
  the bytes in Redis, nothing else.

The database and Redis database are the serving benches' own, which they create, migrate
and FLUSH: SERVE_BENCH_DATABASE_URL (default `DEFAULT_DATABASE_URL`) and
SERVE_BENCH_REDIS_URL (default `DEFAULT_REDIS_URL`).
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import redis
import requests

from bench.databases import create_database_if_missing
from bench.one_client import NO_RATE_LIMITS
from renderer import RENDERER_VERSION
from scripts.stack.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
RENDERER_APP = "renderer.wsgi:app"
IDENTIDOCK_APP = "identidock.wsgi"
CEILING_APP = "bench.ceiling_app:app"
BARE_MISS_APP = "bench.miss_floor_app:app"
REVISION = f"identidock-r{RENDERER_VERSION}"  # compose's DNMONSTER_REVISION for our renderer
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/identidock_serve_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/10"
START_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 40  # above gunicorn's graceful timeout


def storage_urls() -> tuple[str, str]:
    """The serving benches' database and Redis database URLs."""
    return (
        os.environ.get("SERVE_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        os.environ.get("SERVE_BENCH_REDIS_URL", DEFAULT_REDIS_URL),
    )


@dataclass
class Server:
    name: str
    app: str
    port: int
    popen: subprocess.Popen[bytes]
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
        return process_cpu_seconds(self.popen.pid, children=True) + sum(
            process_cpu_seconds(pid) for pid in self.workers()
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


def process_cpu_seconds(pid: int, children: bool = False) -> float:
    """utime + stime (and cutime + cstime with `children`) from /proc/<pid>/stat."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # exited meanwhile: its time goes to the master's children
        return 0.0
    fields = text.rpartition(")")[2].split()  # after "pid (comm)": field 3 is fields[0]
    ticks = sum(int(value) for value in fields[11 : 15 if children else 13])
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """VmRSS of a process, in MB (NaN when /proc does not say)."""
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else float("nan")


def start_server(
    name: str, app: str, environment: dict[str, str], directory: Path, ready_path: str
) -> Server:
    """`app` under gunicorn.conf.py on a free port, once it answers `ready_path` with 200."""
    port = free_port()
    command = [str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"{HOST}:{port}"]
    logs = (directory / f"{name}.access.log", directory / f"{name}.error.log")
    with logs[0].open("wb") as stdout, logs[1].open("wb") as stderr:
        popen = subprocess.Popen(
            [*command, app], cwd=ROOT, env=environment, stdout=stdout, stderr=stderr
        )
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


def base_environment() -> dict[str, str]:
    """What the image provides, plus the GUNICORN_* tuning of this environment (none by
    default: the file's defaults). Nothing else of the caller's settings leaks in."""
    environment = {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    environment["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"
    for name, value in os.environ.items():
        if name in {"HOME", "LANG", "LC_ALL", "TZ"} or name.startswith("GUNICORN_"):
            environment[name] = value
    return environment


def gunicorn_tuning() -> dict[str, str]:
    """The GUNICORN_* variables that reach every server."""
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith("GUNICORN_")}


def app_environment(database_url: str, redis_url: str, renderer_url: str) -> dict[str, str]:
    """Identidock's settings as docker-compose.yml gives them, pointed at local servers."""
    return {
        **base_environment(),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "false",
        "ALLOWED_HOSTS": HOST,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DNMONSTER_URL": renderer_url,
        "DNMONSTER_REVISION": REVISION,
        **NO_RATE_LIMITS,
    }


def prepare_storage(environment: dict[str, str]) -> None:
    """Create the bench database when missing, migrate it, collect static files (the
    image's build step) and empty the bench's Redis database."""
    create_database_if_missing(environment["DATABASE_URL"])
    python = str(VENV_BIN / "python")
    for command in (
        [python, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
        [python, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
    ):
        subprocess.run(command, cwd=ROOT, env=environment, check=True, timeout=300)
    flush_redis(environment["REDIS_URL"])


def redis_client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url, socket_timeout=5)


def flush_redis(redis_url: str) -> None:
    redis_client(redis_url).flushdb()


class Servers:
    """The servers of one bench run: each stopped when `stack` closes, and their CPU
    time together (what a run's CPU per request counts)."""

    def __init__(self, stack: ExitStack, directory: Path) -> None:
        self.stack, self.directory = stack, directory
        self.started: list[Server] = []

    def start(
        self, name: str, app: str, environment: dict[str, str], ready: str = "/healthz"
    ) -> Server:
        server = start_server(name, app, environment, self.directory, ready)
        self.stack.callback(server.stop)
        self.started.append(server)
        return server

    def cpu_seconds(self) -> float:
        return sum(server.cpu_seconds() for server in self.started)

    def renderer(self) -> Server:
        return self.start("renderer", RENDERER_APP, base_environment())

    def identidock(self, environment: dict[str, str], name: str = "identidock") -> Server:
        return self.start(name, IDENTIDOCK_APP, environment)

    def ceiling(self, recorded: Path) -> Server:
        """The bare app answering `recorded` (bench/visitor.py's `record_hit`)."""
        environment = base_environment() | {"CEILING_RESPONSE_FILE": str(recorded)}
        return self.start("ceiling", CEILING_APP, environment, ready="/")

    def bare_miss(self, renderer_url: str, redis_url: str, size: int) -> Server:
        environment = base_environment() | {
            "MISS_FLOOR_RENDERER": renderer_url,
            "MISS_FLOOR_REDIS": redis_url,
        }
        ready = f"/monster/{secrets.token_hex(32)}?size={size}"
        return self.start("bare-miss", BARE_MISS_APP, environment, ready=ready)


@dataclass(frozen=True)
class Stack:
    """What every web bench starts first: the renderer, then Identidock against a
    database and Redis db of the bench's own (flushed when `stack` closes)."""

    servers: Servers
    renderer: Server
    identidock: Server
    environment: dict[str, str]
    database_url: str
    redis_url: str


def start_stack(stack: ExitStack, directory: Path) -> Stack:
    database_url, redis_url = storage_urls()
    servers = Servers(stack, directory)
    renderer = servers.renderer()
    environment = app_environment(database_url, redis_url, renderer.url)
    prepare_storage(environment)
    stack.callback(flush_redis, redis_url)
    identidock = servers.identidock(environment)
    return Stack(servers, renderer, identidock, environment, database_url, redis_url)
