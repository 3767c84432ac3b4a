"""A stack of a bench's own: make stack's topology on servers nobody else uses.

- `RedisServer`: a redis-server of the bench's own on a spare loopback port, no
  persistence, that the bench may stop and start again (the machine's shared Redis is
  never touched, flushed or restarted);
- `scratch_database`: a fresh database on the local PostgreSQL server
  (BENCH_POSTGRES_URL names the server, default postgres://postgres@127.0.0.1:5432/),
  dropped afterwards;
- `bench_stack`: scripts/stack's Stack on them, logging under `log_dir`.

Needs the dev requirements (the stack reads docker-compose.yml with PyYAML), Debian's
nginx and redis-server.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import redis

from scripts.stack import databases, smoke
from scripts.stack.ports import free_port
from scripts.stack.topology import Stack

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"
SECRET_KEY = "bench-only-secret-key-" + "b" * 30  # noqa: S105 - signs nothing that outlives the run
# Compose requires a salt, and the start script's `check --deploy` refuses the public one.
IDENTIDOCK_SALT = "bench-only-salt-" + "b" * 16


class RedisServer:
    """redis-server on 127.0.0.1:`port`, in the foreground of a process of ours."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server", path="/usr/bin:/usr/sbin:/bin")
        if binary is None:
            raise SystemExit("redis-server is missing: `apt-get install redis-server`")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
                + ["--appendonly", "no", "--daemonize", "no", "--dir", str(self.log.parent)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                if client.ping():
                    return
            time.sleep(0.05)
        raise SystemExit(f"redis-server did not answer on port {self.port} within 10 s")

    def stop(self) -> None:
        """SIGTERM, as `docker stop` sends it: Redis closes every connection and exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)
        self.process = None


@contextlib.contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    server = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    database_url = databases.scratch_database_url(server, prefix=prefix)
    databases.create_database(database_url)
    try:
        yield database_url
    finally:
        databases.drop_database(database_url)


@contextlib.contextmanager
def own_redis(log_dir: Path) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), log_dir / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def bench_stack(
    *, database_url: str, redis_url: str, log_dir: Path, replicas: int = 1, **variables: str
) -> Stack:
    """The stack, 2 gunicorn workers as make stack runs it (`replicas` identidock
    servers behind the proxy: make cluster's 3), logging into `log_dir`.

    GUNICORN_* variables in the bench's environment are passed on, so a run can try
    another tuning (`GUNICORN_MAX_REQUESTS=0 .venv/bin/python bench/...`)."""
    tuning = {name: value for name, value in os.environ.items() if name.startswith("GUNICORN_")}
    return Stack(
        database_url=database_url,
        redis_url=redis_url,
        variables={
            "SECRET_KEY": SECRET_KEY,
            "POSTGRES_PASSWORD": "unused",
            "IDENTIDOCK_SALT": IDENTIDOCK_SALT,
            "GUNICORN_WORKERS": "2",
            **tuning,
            **variables,
        },
        log_dir=log_dir,
        replicas=replicas,
    )


WORKER_REPLACED = "Autorestarting worker"  # gunicorn's line when max_requests is reached


def log_offset(path: Path) -> int:
    """Where `path` ends now, to count what is written after."""
    return path.stat().st_size if path.exists() else 0


def count_in_log(path: Path, text: str, *, after: int = 0) -> int:
    """How many lines of `path` past byte `after` hold `text`."""
    if not path.exists():
        return 0
    with path.open("rb") as log:
        log.seek(after)
        return sum(text.encode() in line for line in log)


def revision_of(stack: Stack) -> str:
    """The art's revision, from the monster URL the page shows."""
    found = re.search(r"[?&]v=([\w.-]+)", smoke.smoke(stack.url).monster_path)
    if found is None:
        raise RuntimeError("the page's monster URL names no revision")
    return found[1]


def flush_audit(stack: Stack, log: Path) -> str:
    """`manage.py flush_audit` with the web app's own environment (its output appended to
    `log`); its last line."""
    result = subprocess.run(
        [sys.executable, "manage.py", "flush_audit"],
        cwd=ROOT,
        env=stack.environment("identidock"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    with log.open("a") as out:
        out.write(result.stdout + result.stderr)
    lines = (result.stdout + result.stderr).strip().splitlines()
    return lines[-1] if lines else f"exit {result.returncode}"
