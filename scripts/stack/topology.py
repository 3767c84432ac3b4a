"""The services docker-compose.yml runs, started in compose's order as local processes."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from scripts.stack import ROOT, StackError
from scripts.stack.compose import (
    COMPOSE_FILE,
    image_environment,
    load_compose,
    localize,
    localize_command,
    service_command,
    service_environment,
)
from scripts.stack.ports import free_port
from scripts.stack.processes import Exit, Process, spawn, wait_for_http

START_SCRIPT = ROOT / "docker" / "cmd.sh"
# As the Dockerfile's RUN line: the settings need a key to load, this one signs nothing.
BUILD_SECRET_KEY = "collectstatic-only-not-a-secret"  # noqa: S105
BUILD_COMMAND = ["python", "manage.py", "collectstatic", "--noinput", "--verbosity", "0"]
MIGRATE_TIMEOUT_SECONDS = 120


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

    def environment(self, service: str) -> dict[str, str]:
        compose = load_compose(self.compose_file)
        endpoints = {
            "postgres": self.database_url,
            "redis": self.redis_url,
            "dnmonster": self.renderer_url,
        }
        declared = service_environment(compose, service, self.variables)
        return {**image_environment(), **localize(declared, endpoints)}

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

        renderer = spawn(
            "dnmonster",
            localize_command(
                service_command(compose, "dnmonster"), bind=f"127.0.0.1:{self.renderer_port}"
            ),
            self.environment("dnmonster"),
            self.log_dir,
        )
        self.processes["dnmonster"] = renderer
        wait_for_http(renderer, f"{self.renderer_url}/healthz")

        migrate = spawn(
            "migrate",
            localize_command(service_command(compose, "migrate"), bind=""),
            self.environment("migrate"),
            self.log_dir,
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
        identidock = spawn("identidock", [str(START_SCRIPT)], environment, self.log_dir)
        self.processes["identidock"] = identidock
        wait_for_http(identidock, f"{self.url}/healthz")

    def stop(self) -> dict[str, Exit]:
        """The web app first, then what it depends on, as compose stops them."""
        exits = {}
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
