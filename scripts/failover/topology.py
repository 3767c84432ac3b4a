"""A Redis primary, one replica and three sentinels watching them, on spare loopback ports.

Every process is ours (started here, stopped here by its own handle, never by name);
each writes its log, and each sentinel its config file (Sentinel rewrites it as it
learns), into `directory`. No persistence: a cache, like docker-compose.yml's Redis.
Quorum 2 of 3, and short timers, so that a failover takes seconds:
`down_after_ms` without an answer and a sentinel calls the primary down;
`failover_timeout_ms` bounds a failover attempt before another is tried.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

from scripts.stack.ports import free_port

HOST = "127.0.0.1"
QUORUM = 2
START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 10.0
_POLL_SECONDS = 0.02


class TopologyError(RuntimeError):
    """A server did not start, or the sentinels did not do what was asked in time."""


@dataclass
class Topology:
    directory: Path
    service: str = "mymaster"
    down_after_ms: int = 1000
    failover_timeout_ms: int = 2000
    primary_port: int = 0  # the primary, and its replica, as started (not after a failover)
    replica_port: int = 0
    sentinel_ports: list[int] = field(default_factory=list)
    _processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    _clients: dict[int, redis.Redis] = field(default_factory=dict)

    # --- Starting and stopping ------------------------------------------------------

    def start(self) -> None:
        """Primary, then its replica, then the sentinels; returns once the sentinels
        know the replica and each other, so a failover can happen at once."""
        self.primary_port, self.replica_port = free_port(), free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]
        try:
            self._start_server(self.primary_port)
            self._start_server(self.replica_port, "--replicaof", HOST, str(self.primary_port))
            self._wait(self._replica_in_sync, "the replica did not sync with the primary")
            for port in self.sentinel_ports:
                self._start_sentinel(port)
            self._wait(self._sentinels_see_everyone, "the sentinels did not find each other")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every process still running, newest first (SIGTERM, then wait)."""
        for port, process in reversed(list(self._processes.items())):
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            del self._processes[port]
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def __enter__(self) -> Topology:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- What the application is given ----------------------------------------------

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        return [(HOST, port) for port in self.sentinel_ports]

    @property
    def sentinels_setting(self) -> str:
        """The value of REDIS_SENTINELS for these sentinels."""
        return ",".join(f"{host}:{port}" for host, port in self.sentinels)

    def client(self, port: int) -> redis.Redis:
        """A client of the server on `port`, made once (polls reuse its connection)."""
        if port not in self._clients:
            self._clients[port] = redis.Redis(
                HOST, port, socket_connect_timeout=1, socket_timeout=1
            )
        return self._clients[port]

    # --- Failures and what the sentinels make of them --------------------------------

    def kill(self, port: int) -> float:
        """SIGKILL the server on `port`: no goodbye to its clients or the sentinels.
        Returns the time (time.monotonic()) of the kill."""
        process = self._processes.pop(port)
        killed_at = time.monotonic()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
        return killed_at

    def switch_over(self) -> float:
        """Ask a sentinel for a failover with the primary still up (SENTINEL FAILOVER):
        the primary is demoted to a replica, not killed. Returns when it was asked."""
        asked_at = time.monotonic()
        self.client(self.sentinel_ports[0]).sentinel_failover(self.service)
        return asked_at

    def wait_for_primary_other_than(self, old_port: int, timeout: float) -> tuple[int, float]:
        """Wait until a sentinel names a primary other than `old_port`: what a client
        asking the sentinels then finds. Returns its port and the time it was seen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for port in self.sentinel_ports:
                named = self._named_by(port)
                if named is not None and named != old_port:
                    return named, time.monotonic()
            time.sleep(_POLL_SECONDS)
        raise TopologyError(f"no sentinel named a new primary within {timeout:.0f} s")

    def role(self, port: int) -> str:
        """`master` or `slave`, as the server on `port` says of itself."""
        return str(self.client(port).info("replication")["role"])

    def wait_until_replica(self, port: int, timeout: float) -> None:
        """Wait until the server on `port` has been turned into a replica."""
        self._wait(lambda: self.role(port) == "slave", f"{port} was not demoted", timeout)

    # --- Internals ----------------------------------------------------------------

    def _start_server(self, port: int, *arguments: str) -> None:
        command = ["redis-server", "--port", str(port), "--bind", HOST]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        # A replica's first sync at once (Redis 7 waits 5 s for more replicas by default).
        command += ["--repl-diskless-sync-delay", "0"]
        self._spawn(port, [*command, *arguments], f"redis-{port}.log")
        self._wait(lambda: self._answers(port), f"redis-server on {port} did not start")

    def _start_sentinel(self, port: int) -> None:
        config = self.directory / f"sentinel-{port}.conf"
        config.write_text(
            f"port {port}\n"
            f"bind {HOST}\n"
            f"dir {self.directory}\n"
            f"sentinel monitor {self.service} {HOST} {self.primary_port} {QUORUM}\n"
            f"sentinel down-after-milliseconds {self.service} {self.down_after_ms}\n"
            f"sentinel failover-timeout {self.service} {self.failover_timeout_ms}\n"
        )
        self._spawn(port, ["redis-server", str(config), "--sentinel"], f"sentinel-{port}.log")
        self._wait(lambda: self._answers(port), f"sentinel on {port} did not start")

    def _spawn(self, port: int, command: list[str], log_name: str) -> None:
        with (self.directory / log_name).open("wb") as log:
            self._processes[port] = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def _named_by(self, sentinel_port: int) -> int | None:
        try:
            address = self.client(sentinel_port).sentinel_get_master_addr_by_name(self.service)
        except redis.RedisError:
            return None
        if not isinstance(address, (list, tuple)):
            return None  # the sentinel knows no such service
        return int(address[1])

    def _answers(self, port: int) -> bool:
        process = self._processes[port]
        if process.poll() is not None:
            raise TopologyError(f"the server on {port} exited ({process.returncode})")
        try:
            return bool(self.client(port).ping())
        except redis.ConnectionError:
            return False

    def _replica_in_sync(self) -> bool:
        info = self.client(self.replica_port).info("replication")
        return bool(info.get("master_link_status") == "up")

    def _sentinels_see_everyone(self) -> bool:
        for port in self.sentinel_ports:
            state = self.client(port).sentinel_master(self.service)
            if not isinstance(state, dict):
                return False
            if state["num-other-sentinels"] < len(self.sentinel_ports) - 1:
                return False
            if state["num-slaves"] < 1:
                return False
        return True

    def _wait(
        self, condition: Callable[[], bool], failure: str, timeout: float = START_TIMEOUT_SECONDS
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(_POLL_SECONDS)
        raise TopologyError(f"{failure} within {timeout:.0f} s (logs in {self.directory})")
