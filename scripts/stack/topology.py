"""The services docker-compose.yml runs, started in compose's order as local processes.

Compose's own order: the image's build step, then each service once what it depends on
is up (`dnmonster`, the one-off `migrate`, `identidock`); stopped the other way round.
One more server is one more `_serve` call in `start`.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.stack import ROOT, compose, processes
from scripts.stack.ports import free_port
from scripts.stack.processes import Exit, Process

START_SCRIPT = ROOT / "docker" / "cmd.sh"
# As the Dockerfile's RUN line: the settings need a key to load, this one signs nothing.
BUILD_SECRET_KEY = "collectstatic-only-not-a-secret"  # noqa: S105
BUILD_COMMAND = ["python", "manage.py", "collectstatic", "--noinput", "--verbosity", "0"]
BUILD_TIMEOUT_SECONDS = 120
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
    compose_file: Path = compose.COMPOSE_FILE
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
        """The service's compose environment, its service URLs pointing at this machine."""
        endpoints = {
            "postgres": self.database_url,
            "redis": self.redis_url,
            "dnmonster": self.renderer_url,
        }
        declared = compose.service_environment(self._compose(), service, self.variables)
        return {**compose.image_environment(), **compose.localize(declared, endpoints)}

    def start(self) -> None:
        services = self._compose()
        self.port = self.port or free_port()
        self.renderer_port = self.renderer_port or free_port()

        self._run(
            "collectstatic",
            compose.localize_command(BUILD_COMMAND, bind=""),
            {**self.environment("identidock"), "SECRET_KEY": BUILD_SECRET_KEY},
            timeout=BUILD_TIMEOUT_SECONDS,
        )
        self._serve(
            "dnmonster",
            compose.localize_command(
                compose.service_command(services, "dnmonster"),
                bind=f"127.0.0.1:{self.renderer_port}",
            ),
            self.environment("dnmonster"),
            ready_url=f"{self.renderer_url}/healthz",
        )
        self.migrate_exit = self._run(
            "migrate",
            compose.localize_command(compose.service_command(services, "migrate"), bind=""),
            self.environment("migrate"),
            timeout=MIGRATE_TIMEOUT_SECONDS,
        )
        # The image's own start script, so ENV, exec and gunicorn.conf.py are exercised;
        # GUNICORN_CMD_ARGS moves the bind off the container's 0.0.0.0:5000.
        self._serve(
            "identidock",
            [str(START_SCRIPT)],
            {
                **self.environment("identidock"),
                "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{self.port}",
            },
            ready_url=f"{self.url}/healthz",
        )

    def stop(self) -> dict[str, Exit]:
        """The web app first, then what it depends on, as compose stops them."""
        return processes.stop_newest_first(self.processes)

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _compose(self) -> dict[str, Any]:
        return compose.load_compose(self.compose_file)

    def _run(
        self, name: str, command: list[str], environment: dict[str, str], *, timeout: float
    ) -> Exit:
        return processes.run_to_completion(
            name, command, environment, log_dir=self.log_dir, timeout=timeout
        )

    def _serve(
        self,
        name: str,
        command: list[str],
        environment: dict[str, str],
        *,
        ready_url: str,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        """Start a server and wait until it answers; from then on `stop` stops it."""
        process = processes.start(
            name, command, environment, log_dir=self.log_dir, stop_signal=stop_signal
        )
        self.processes[name] = process
        processes.wait_until_serving(process, ready_url)
