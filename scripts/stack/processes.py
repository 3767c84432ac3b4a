"""Processes of the stack: started in a session of their own, waited for, stopped gracefully."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import IO

import requests

from scripts.stack import ROOT, StackError

START_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 40  # above gunicorn's graceful timeout (20 s by default)


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


def spawn(
    name: str, command: list[str], environment: dict[str, str], log_dir: Path | None
) -> Process:
    logs = None
    stdout: IO[bytes] | None = None
    stderr: IO[bytes] | None = None
    if log_dir is not None:
        logs = (log_dir / f"{name}.stdout.log", log_dir / f"{name}.stderr.log")
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


def wait_for_http(process: Process, url: str, timeout: float = START_TIMEOUT_SECONDS) -> None:
    """Until `url` answers 200, as compose's healthcheck asks; a process that exits fails."""
    deadline = time.monotonic() + timeout
    with requests.Session() as session:
        session.trust_env = False  # a local server: no proxy from the environment
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                raise StackError(
                    f"{process.name} exited with {process.popen.returncode} while starting:\n"
                    + process.output()[1][-2000:]
                )
            try:
                if session.get(url, timeout=1).status_code == HTTPStatus.OK:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
    raise StackError(f"{process.name} did not answer {url} within {timeout:.0f} s")
