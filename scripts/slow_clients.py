"""Clients that hold a server's connections, and a client that times ordinary requests.

For tests/test_slow_clients.py and bench/slow_clients_bench.py, against 127.0.0.1 only:

- `Attackers`: raw sockets, all driven by one thread with a selector. An `idle` one
  connects and sends nothing; a `slow` one sends a request line, then one header line
  every `interval` seconds and never the blank line that ends the header. When the
  server closes one (or answers it), it connects again at once, until the time is up,
  so the pressure lasts the whole run.
- `timed_gets`: one person's browser, as it were: GETs over one kept-alive session,
  each timed from the call to the last byte of the body.
"""

from __future__ import annotations

import math
import selectors
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import requests

HOST = "127.0.0.1"
CONNECT_TIMEOUT_SECONDS = 1.0
RECONNECT_PAUSE_SECONDS = 0.05
REQUEST_LINE = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"


@dataclass
class AttackReport:
    """What the attackers managed: connections made, how many the server closed, and
    the most that were open at once."""

    opened: int = 0
    closed_by_server: int = 0
    answered: int = 0  # of those closed, how many got an answer (a status line) first
    connect_failures: int = 0
    peak_open: int = 0
    open_at_end: int = 0


@dataclass
class _Connection:
    kind: str  # "slow" or "idle"
    sock: socket.socket
    next_line_at: float
    lines_sent: int = 0
    answered: bool = False


@dataclass
class Attackers:
    """`slow` + `idle` connections to `port`, held for `seconds` from `start()`."""

    port: int
    slow: int
    idle: int
    seconds: float
    interval: float = 2.0
    report: AttackReport = field(default_factory=AttackReport)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _connected: threading.Event = field(default_factory=threading.Event, repr=False)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="attackers", daemon=True)
        self._thread.start()

    def wait_until_connected(self, timeout: float = 10.0) -> bool:
        """Whether every attacker had connected once within `timeout` seconds."""
        return self._connected.wait(timeout)

    def join(self) -> AttackReport:
        if self._thread is not None:
            self._thread.join(self.seconds + 10)
        return self.report

    def _run(self) -> None:
        deadline = time.monotonic() + self.seconds
        selector = selectors.DefaultSelector()
        waiting = ["slow"] * self.slow + ["idle"] * self.idle  # to (re)connect
        try:
            while time.monotonic() < deadline:
                waiting = self._connect(selector, waiting)
                if not waiting:
                    self._connected.set()
                now = time.monotonic()
                for key, _ in selector.select(timeout=0.05):
                    connection: _Connection = key.data
                    if self._closed_or_answered(connection):
                        waiting.append(self._drop(selector, connection))
                for key in list(selector.get_map().values()):
                    connection = key.data
                    due = connection.kind == "slow" and connection.next_line_at <= now
                    if due and not self._send_line(connection, now):
                        waiting.append(self._drop(selector, connection))
                self.report.peak_open = max(self.report.peak_open, len(selector.get_map()))
        finally:
            self.report.open_at_end = len(selector.get_map())
            for key in list(selector.get_map().values()):
                selector.unregister(key.fileobj)
                key.data.sock.close()
            selector.close()
            self._connected.set()

    def _connect(self, selector: selectors.BaseSelector, kinds: list[str]) -> list[str]:
        """Connect one socket per kind; return the kinds that could not connect yet."""
        failed = []
        for kind in kinds:
            try:
                sock = socket.create_connection((HOST, self.port), CONNECT_TIMEOUT_SECONDS)
            except OSError:
                self.report.connect_failures += 1
                failed.append(kind)
                continue
            sock.setblocking(False)
            connection = _Connection(kind, sock, next_line_at=time.monotonic())
            if kind == "slow" and not self._send_line(connection, time.monotonic()):
                sock.close()
                failed.append(kind)
                continue
            selector.register(sock, selectors.EVENT_READ, connection)
            self.report.opened += 1
        if failed:
            time.sleep(RECONNECT_PAUSE_SECONDS)
        return failed

    def _send_line(self, connection: _Connection, now: float) -> bool:
        """The request line first, then one more header line; False when it is closed."""
        line = (
            REQUEST_LINE
            if connection.lines_sent == 0
            else f"X-Slow-{connection.lines_sent}: still typing\r\n".encode()
        )
        try:
            connection.sock.send(line)
        except OSError:
            return False
        connection.lines_sent += 1
        connection.next_line_at = now + self.interval
        return True

    @staticmethod
    def _closed_or_answered(connection: _Connection) -> bool:
        try:
            data = connection.sock.recv(4096)
        except BlockingIOError:
            return False
        except OSError:
            return True
        connection.answered = connection.answered or data.startswith(b"HTTP/")
        return True  # closed (b""), or answered: either way this attacker starts anew

    def _drop(self, selector: selectors.BaseSelector, connection: _Connection) -> str:
        selector.unregister(connection.sock)
        connection.sock.close()
        self.report.closed_by_server += 1
        self.report.answered += connection.answered
        return connection.kind


@dataclass(frozen=True)
class Timing:
    """One request: its status (None when it failed) and how long it took."""

    status: int | None
    seconds: float
    error: str = ""


def timed_gets(
    urls: Iterable[str], *, pause: float, deadline: float, timeout: float
) -> list[Timing]:
    """GET each URL in turn over one kept-alive session, `pause` seconds apart, until the
    URLs run out or the monotonic `deadline` passes."""
    timings = []
    with requests.Session() as session:
        session.trust_env = False  # a local server: no proxy from the environment
        for url in urls:
            if time.monotonic() >= deadline:
                break
            started = time.perf_counter()
            try:
                response = session.get(url, timeout=timeout)
                timings.append(Timing(response.status_code, time.perf_counter() - started))
            except requests.RequestException as exc:
                timings.append(Timing(None, time.perf_counter() - started, type(exc).__name__))
            time.sleep(pause)
    return timings


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile: the smallest value at least `fraction` of all are
    at or below (p99 of 100 values is the 99th smallest)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]
