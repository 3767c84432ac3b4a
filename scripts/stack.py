"""The compose topology as plain processes, for machines without Docker: `make stack`.

What docker-compose.yml describes, run here against the local PostgreSQL and Redis:

1. the image build's one step that matters at run time: `collectstatic`;
2. `dnmonster`: that service's own command (our renderer under gunicorn), on a free port;
3. `migrate`: the one-off service's command, which must succeed;
4. `identidock`: the image's start script, docker/cmd.sh (so gunicorn with
   gunicorn.conf.py), with the environment the compose file gives the service, its
   service host names (postgres, redis, dnmonster) mapped to the local servers.

Ctrl-C or SIGTERM stops everything gracefully, as `docker stop` does: SIGTERM to each
gunicorn, then wait. tests/test_stack.py drives the same functions.

    .venv/bin/python scripts/stack.py [--port 5000] [--check]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psycopg2
import yaml
from psycopg2 import sql

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
START_SCRIPT = ROOT / "docker" / "cmd.sh"
VENV_BIN = Path(sys.executable).parent

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/identidock"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# As the Dockerfile's RUN line: the settings need a key to load, this one signs nothing.
BUILD_SECRET_KEY = "collectstatic-only-not-a-secret"  # noqa: S105
BUILD_COMMAND = ["python", "manage.py", "collectstatic", "--noinput", "--verbosity", "0"]

START_TIMEOUT_SECONDS = 30
MIGRATE_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_SECONDS = 40  # above gunicorn's graceful timeout (20 s by default)
HTTP_TIMEOUT_SECONDS = 10

_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?])(?P<argument>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


class StackError(RuntimeError):
    """The stack could not start; the message says which part and why."""


# --- The compose file --------------------------------------------------------------


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `$$`."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        operator = match["operator"] or ""
        value = variables.get(name)
        if operator.startswith(":") and value == "":
            value = None  # with a colon, empty counts as unset
        if value is not None:
            return value
        if operator.endswith("-"):
            return match["argument"]
        if operator.endswith("?"):
            raise StackError(f"{name} is required: {match['argument']}")
        return ""

    return _VARIABLE.sub(replace, text)


def service_environment(
    compose: Mapping[str, Any], service: str, variables: Mapping[str, str]
) -> dict[str, str]:
    """The environment compose would give `service`, interpolated with `variables`."""
    declared = compose["services"][service].get("environment") or {}
    if isinstance(declared, list):
        declared = dict(item.split("=", 1) if "=" in item else (item, None) for item in declared)
    environment = {}
    for name, value in declared.items():
        if value is None:  # `NAME:` alone passes the caller's value through
            if name in variables:
                environment[name] = variables[name]
            continue
        environment[name] = interpolate(str(value), variables)
    return environment


def service_command(compose: Mapping[str, Any], service: str) -> list[str]:
    command = compose["services"][service]["command"]
    if isinstance(command, str):
        raise StackError(f"{service}: write `command` as a list, so no shell is involved")
    return [str(part) for part in command]


def localize(environment: Mapping[str, str], endpoints: Mapping[str, str]) -> dict[str, str]:
    """Replace every URL that points at a compose service with that service's local URL."""
    local = {}
    for name, value in environment.items():
        hostname = urllib.parse.urlsplit(value).hostname
        if _URL.match(value) and hostname is not None and hostname in endpoints:
            value = endpoints[hostname]
        local[name] = value
    return local


def localize_command(command: list[str], *, bind: str) -> list[str]:
    """The container command for this machine: our virtualenv's tools, a local `--bind`."""
    local = list(command)
    if local and (VENV_BIN / local[0]).exists():
        local[0] = str(VENV_BIN / local[0])
    for flag in ("--bind", "-b"):
        if flag in local:
            local[local.index(flag) + 1] = bind
    return local


# --- Local servers -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _maintenance_dsn(database_url: str) -> str:
    return urllib.parse.urlsplit(database_url)._replace(path="/postgres").geturl()


def _database_name(database_url: str) -> str:
    return urllib.parse.urlsplit(database_url).path.lstrip("/")


def _run_maintenance(database_url: str, statement: sql.Composable) -> list[tuple]:
    connection = psycopg2.connect(_maintenance_dsn(database_url), connect_timeout=5)
    try:
        connection.autocommit = True  # CREATE / DROP DATABASE refuse to run in a transaction
        with connection.cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


def database_exists(database_url: str) -> bool:
    statement = sql.SQL("SELECT 1 FROM pg_database WHERE datname = {}").format(
        sql.Literal(_database_name(database_url))
    )
    return bool(_run_maintenance(database_url, statement))


def create_database(database_url: str) -> None:
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(_database_name(database_url)))
    _run_maintenance(database_url, statement)


def drop_database(database_url: str) -> None:
    statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
        sql.Identifier(_database_name(database_url))
    )
    _run_maintenance(database_url, statement)


def scratch_database_url(server_url: str, prefix: str = "test_identidock_stack") -> str:
    """A database URL on `server_url`'s server with a fresh, random database name."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    return urllib.parse.urlsplit(server_url)._replace(path=f"/{name}").geturl()


# --- Processes ---------------------------------------------------------------------


@dataclass
class Exit:
    returncode: int | None
    stdout: str
    stderr: str


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    logs: tuple[Path, Path] | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> tuple[str, str]:
        if self.logs is None:
            return "", ""
        return tuple(path.read_text(errors="replace") for path in self.logs)  # type: ignore[return-value]

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> Exit:
        """SIGTERM, as `docker stop` sends, then wait for a graceful exit."""
        if self.popen.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.popen.wait()
            stdout, stderr = self.output()
            return Exit(None, stdout, stderr + f"\n[stack] {self.name} ignored SIGTERM\n")
        return Exit(self.popen.returncode, *self.output())


def _base_environment() -> dict[str, str]:
    """What the image itself provides; nothing of the caller's own settings leaks in."""
    environment = {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for name in ("HOME", "LANG", "LC_ALL", "TZ"):
        if name in os.environ:
            environment[name] = os.environ[name]
    return environment


def _wait_for_http(process: Process, url: str, timeout: float = START_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise StackError(
                f"{process.name} exited with {process.popen.returncode} while starting:\n"
                + process.output()[1][-2000:]
            )
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise StackError(f"{process.name} did not answer {url} within {timeout:.0f} s")


@dataclass
class Stack:
    """identidock, its renderer and a migration, as compose runs them, on this machine.

    `log_dir` collects each process's stdout and stderr in files; None leaves them on
    the terminal (`make stack`).
    """

    database_url: str
    redis_url: str
    variables: Mapping[str, str]
    port: int = 0
    log_dir: Path | None = None
    compose_file: Path = COMPOSE_FILE
    renderer_port: int = 0
    processes: dict[str, Process] = field(default_factory=dict)
    migrate_exit: Exit | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def renderer_url(self) -> str:
        return f"http://127.0.0.1:{self.renderer_port}"

    def _popen(self, name: str, command: list[str], environment: dict[str, str]) -> Process:
        logs = None
        stdout: IO[bytes] | None = None
        stderr: IO[bytes] | None = None
        if self.log_dir is not None:
            logs = (self.log_dir / f"{name}.stdout.log", self.log_dir / f"{name}.stderr.log")
            stdout, stderr = logs[0].open("wb"), logs[1].open("wb")
        try:
            popen = subprocess.Popen(
                command,
                cwd=ROOT,
                env=environment,
                stdout=stdout,
                stderr=stderr,
                # Its own session: a Ctrl-C in the terminal reaches the stack, which then
                # stops each server gracefully, rather than every gunicorn at once.
                start_new_session=True,
            )
        finally:
            for handle in (stdout, stderr):
                if handle is not None:
                    handle.close()
        return Process(name, popen, logs)

    def environment(self, service: str) -> dict[str, str]:
        compose = load_compose(self.compose_file)
        endpoints = {
            "postgres": self.database_url,
            "redis": self.redis_url,
            "dnmonster": self.renderer_url,
        }
        declared = service_environment(compose, service, self.variables)
        return {**_base_environment(), **localize(declared, endpoints)}

    def build(self) -> None:
        environment = {**self.environment("identidock"), "SECRET_KEY": BUILD_SECRET_KEY}
        command = localize_command(BUILD_COMMAND, bind="")
        result = subprocess.run(
            command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0:
            raise StackError(f"collectstatic failed:\n{result.stderr[-2000:]}")

    def start(self) -> None:
        compose = load_compose(self.compose_file)
        self.port = self.port or free_port()
        self.renderer_port = self.renderer_port or free_port()
        self.build()

        renderer = self._popen(
            "dnmonster",
            localize_command(
                service_command(compose, "dnmonster"), bind=f"127.0.0.1:{self.renderer_port}"
            ),
            self.environment("dnmonster"),
        )
        self.processes["dnmonster"] = renderer
        _wait_for_http(renderer, f"{self.renderer_url}/healthz")

        migrate = self._popen(
            "migrate",
            localize_command(service_command(compose, "migrate"), bind=""),
            self.environment("migrate"),
        )
        try:
            migrate.popen.wait(timeout=MIGRATE_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            migrate.stop()
            raise StackError("migrate did not finish in time") from None
        self.migrate_exit = Exit(migrate.popen.returncode, *migrate.output())
        if migrate.popen.returncode != 0:
            raise StackError(f"migrate failed:\n{self.migrate_exit.stderr[-2000:]}")

        # The image's own start script, so ENV, exec and gunicorn.conf.py are exercised;
        # GUNICORN_CMD_ARGS moves the bind off the container's 0.0.0.0:5000.
        environment = {
            **self.environment("identidock"),
            "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{self.port}",
        }
        identidock = self._popen("identidock", [str(START_SCRIPT)], environment)
        self.processes["identidock"] = identidock
        _wait_for_http(identidock, f"{self.url}/healthz")

    def stop(self) -> dict[str, Exit]:
        """The web app first, then what it depends on, as compose stops them."""
        exits: dict[str, Exit] = {}
        for name in ("identidock", "dnmonster"):
            if name in self.processes:
                exits[name] = self.processes.pop(name).stop()
        return exits

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# --- A smoke check, as a person would click through --------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )


def fetch(
    opener: urllib.request.OpenerDirector, url: str, data: dict[str, str] | None = None
) -> Answer:
    encoded = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=encoded)  # noqa: S310
    try:
        with opener.open(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
            return Answer(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, dict(error.headers), error.read())


def smoke(base_url: str, name: str | None = None) -> dict[str, Any]:
    """Submit a fresh name, fetch its monster twice, the stylesheet and both probes.

    A random name by default, so its monster is a cache miss the first time.
    """
    name = name or f"Stack check {secrets.token_hex(6)}"
    opener = _opener()
    form = fetch(opener, f"{base_url}/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', form.body)
    if token is None:
        raise StackError(f"the page has no CSRF token (status {form.status})")
    page = fetch(opener, f"{base_url}/", {"csrfmiddlewaretoken": token[1].decode(), "name": name})
    monster_path = re.search(rb'src="(/monster/[0-9a-f]{64}\?size=\d+)"', page.body)
    stylesheet_path = re.search(rb'href="(/static/[^"]+\.css)"', page.body)
    if monster_path is None or stylesheet_path is None:
        raise StackError(f"the page shows no monster or no stylesheet (status {page.status})")
    monsters = [fetch(opener, base_url + monster_path[1].decode()) for _ in range(2)]
    return {
        "form": form,
        "page": page,
        "monster_path": monster_path[1].decode(),
        "monsters": monsters,
        "stylesheet": fetch(opener, base_url + stylesheet_path[1].decode()),
        "healthz": fetch(opener, f"{base_url}/healthz"),
        "readyz": fetch(opener, f"{base_url}/readyz"),
    }


# --- make stack --------------------------------------------------------------------


def local_variables() -> dict[str, str]:
    """The caller's environment, plus what compose would need from a `.env` file."""
    variables = dict(os.environ)
    if not variables.get("SECRET_KEY"):
        key_file = ROOT / "var" / "secret_key"
        if not key_file.exists():
            key_file.parent.mkdir(exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(50) + "\n")
            key_file.chmod(0o600)
        variables["SECRET_KEY"] = key_file.read_text().strip()
    # The compose file builds DATABASE_URL from it; here DATABASE_URL replaces that URL.
    variables.setdefault("POSTGRES_PASSWORD", "unused-outside-docker")
    variables.setdefault("GUNICORN_WORKERS", "2")  # frugal on a laptop
    return variables


def _print_smoke(report: dict[str, Any]) -> bool:
    x_cache = [answer.headers.get("X-Cache", "-") for answer in report["monsters"]]
    readyz = report["readyz"]
    lines = [
        ("page", report["page"].status == 200, f"{report['page'].status}"),
        ("stylesheet", report["stylesheet"].status == 200, f"{report['stylesheet'].status}"),
        ("monster twice", x_cache == ["MISS", "HIT"], " then ".join(x_cache)),
        ("/healthz", report["healthz"].status == 200, f"{report['healthz'].status}"),
        ("/readyz", readyz.status == 200, f"{readyz.status} {readyz.body.decode()}"),
    ]
    for label, passed, detail in lines:
        print(f"  {'ok  ' if passed else 'FAIL'} {label}: {detail}")
    return all(passed for _, passed, _ in lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    parser.add_argument("--check", action="store_true", help="smoke-check, then stop")
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if not database_exists(database_url):
        create_database(database_url)
    stack = Stack(
        database_url=database_url,
        redis_url=os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL,
        variables=local_variables(),
        port=args.port,
    )
    # Until the servers are up, Ctrl-C aborts; afterwards it asks for a graceful stop.
    with stack:
        print(f"Identidock on {stack.url}, its renderer on {stack.renderer_url}", flush=True)
        passed = True
        if args.check:
            passed = _print_smoke(smoke(stack.url))
        else:
            print("Ctrl-C stops everything gracefully.", flush=True)
        # From here a signal is a request to stop: taken in turn, never mid-shutdown.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        if not args.check:
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
        exits = stack.stop()
    for name, exit_ in exits.items():
        print(f"{name} exited with {exit_.returncode}", flush=True)
        passed = passed and exit_.returncode == 0
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
