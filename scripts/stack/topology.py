"""The services docker-compose.yml runs, started in compose's order as local processes.

Compose's own order: the image's build step, then each service once what it depends on
is up (`dnmonster`, the one-off `migrate`, `identidock`, `proxy`); stopped the other way
round. One more server is one more `_serve` call in `start`. As in compose, only the
proxy is where people connect (`url`); gunicorn listens on a port of its own
(`web_url`) that only the proxy and the tests use.

`replicas` > 1 is `make cluster`, compose's `--scale identidock=N`: N identidock
servers named identidock-1 ... identidock-N, each on its own port and with its own
metrics port (`metrics_ports`), all of them in the proxy's upstream.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.stack import ROOT, StackError, compose, processes, proxy
from scripts.stack.ports import free_port
from scripts.stack.processes import Exit, Process

START_SCRIPT = ROOT / "docker" / "cmd.sh"
# As the Dockerfile's RUN line: the settings need a key to load, this one signs nothing.
BUILD_SECRET_KEY = "collectstatic-only-not-a-secret"  # noqa: S105
BUILD_COMMAND = ["python", "manage.py", "collectstatic", "--noinput", "--verbosity", "0"]
BUILD_TIMEOUT_SECONDS = 120
MIGRATE_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class _Launch:
    """How a server was started, to start it again after a kill."""

    command: list[str]
    environment: dict[str, str]
    ready_url: str
    stop_signal: signal.Signals


@dataclass
class Stack:
    """identidock, its renderer, a migration and the proxy, as compose runs them, here.

    `port` is the proxy's, the one published; `web_port` gunicorn's (the first
    replica's), `renderer_port` the renderer's (free ports when 0). `log_dir` collects
    each process's stdout and stderr in files; None leaves them on the terminal (`make
    stack`). `replicas`: how many identidock servers the proxy balances.
    """

    database_url: str
    redis_url: str
    variables: Mapping[str, str]
    port: int = 0
    log_dir: Path | None = None
    compose_file: Path = compose.COMPOSE_FILE
    renderer_port: int = 0
    web_port: int = 0
    replicas: int = 1
    web_ports: list[int] = field(default_factory=list)  # one per replica, in order
    metrics_ports: list[int] = field(default_factory=list)  # 0: that replica serves none
    processes: dict[str, Process] = field(default_factory=dict)
    migrate_exit: Exit | None = None
    proxy_config: Path | None = None  # nginx.conf, in a directory of this run's own
    proxy_status_port: int = 0  # nginx's stub_status (/nginx_status), on the loopback
    _launches: dict[str, _Launch] = field(default_factory=dict, init=False, repr=False)

    @property
    def url(self) -> str:
        """Where people connect: the proxy."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def web_url(self) -> str:
        """gunicorn itself, behind the proxy."""
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def web_names(self) -> list[str]:
        """The identidock servers' process names: `identidock`, or one per replica."""
        if self.replicas == 1:
            return ["identidock"]
        return [f"identidock-{number}" for number in range(1, self.replicas + 1)]

    @property
    def proxy_status_url(self) -> str:
        """nginx's own counts (stub_status): the proxy answers hits the app never sees."""
        return f"http://127.0.0.1:{self.proxy_status_port}/nginx_status"

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
        if self.replicas < 1:
            raise StackError(f"replicas must be at least 1, not {self.replicas}")
        self.web_port = self.web_port or free_port()
        self.web_ports = [self.web_port, *(free_port() for _ in range(self.replicas - 1))]

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
        # GUNICORN_CMD_ARGS moves the bind off the container's 0.0.0.0:5000. The proxy
        # is on this machine's loopback: the one address gunicorn believes.
        # Replicas of a cluster each serve metrics on a port of their own: on one
        # machine they cannot all have compose's 9100.
        web_environment = self.environment("identidock")
        self.metrics_ports = []
        for name, web_port in zip(self.web_names, self.web_ports, strict=True):
            metrics_port = (
                int(web_environment.get("METRICS_PORT") or 0) if self.replicas == 1 else free_port()
            )
            self.metrics_ports.append(metrics_port)
            self._serve(
                name,
                [str(START_SCRIPT)],
                {
                    **web_environment,
                    "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{web_port}",
                    "FORWARDED_ALLOW_IPS": "127.0.0.1",
                    "METRICS_PORT": str(metrics_port),
                },
                ready_url=f"http://127.0.0.1:{web_port}/healthz",
            )
        # nginx's files in a directory of their own; its workers (`nobody` when started
        # by root) must reach it, which a pytest tmp_path would not let them.
        # The compose service's cache settings, with the caller's PROXY_CACHE_SIZE and
        # PROXY_CACHE_INACTIVE; nginx's stub_status on a loopback port of the run's own.
        self.proxy_status_port = free_port()
        self.proxy_config = proxy.write_config(
            Path(tempfile.mkdtemp(prefix="identidock-proxy-")),
            listen=f"127.0.0.1:{self.port}",
            upstream=[f"127.0.0.1:{web_port}" for web_port in self.web_ports],
            settings=proxy.compose_settings(self.variables),
            status_listen=f"127.0.0.1:{self.proxy_status_port}",
        )
        self._serve(
            "proxy",
            proxy.command(self.proxy_config),
            compose.image_environment(),
            ready_url=f"{self.url}/healthz",
            stop_signal=signal.SIGQUIT,  # nginx's graceful stop, the image's STOPSIGNAL
        )

    def stop(self) -> dict[str, Exit]:
        """The proxy first, then the web app, then what it depends on, as compose does."""
        try:
            return processes.stop_newest_first(self.processes)
        finally:
            if self.proxy_config is not None and not self.processes:
                shutil.rmtree(self.proxy_config.parent, ignore_errors=True)
                self.proxy_config = None

    def kill(self, service: str) -> None:
        """SIGKILL to the service's whole process group, as `docker kill` does."""
        processes.kill(self.processes[service])

    def restart(self, service: str) -> None:
        """Start a service again as it was started (`docker start`); wait until it serves."""
        launch = self._launches[service]
        self._serve(
            service,
            launch.command,
            launch.environment,
            ready_url=launch.ready_url,
            stop_signal=launch.stop_signal,
            append_logs=True,
        )

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
        append_logs: bool = False,
    ) -> None:
        """Start a server and wait until it answers; from then on `stop` stops it."""
        self._launches[name] = _Launch(command, environment, ready_url, stop_signal)
        process = processes.start(
            name,
            command,
            environment,
            log_dir=self.log_dir,
            stop_signal=stop_signal,
            append_logs=append_logs,
        )
        self.processes[name] = process
        processes.wait_until_serving(process, ready_url)
