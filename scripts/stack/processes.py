"""Processes of the stack: started in a session of their own, waited for, stopped gracefully.

Nothing here knows which programs run: the topology names them. A server is `start`ed,
then `wait_until_serving`; a one-off job (collectstatic, migrate) is
`run_to_completion`; `stop_newest_first` stops servers in the reverse order of their
start, as compose stops a service before what it depends on. Each process says how it
wants to be stopped: gunicorn finishes its requests on SIGTERM, nginx on SIGQUIT.
`kill` is `docker kill`: SIGKILL to the process and everything it started.
"""

from __future__ import annotations

import contextlib
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
_TAIL = 2000  # characters of stderr that an error message quotes


@dataclass
class Exit:
    returncode: int | None
    stdout: str
    stderr: str


@dataclass
class Process:
    """A started process; its output is in `logs` (stdout, stderr), or on the terminal."""

    name: str
    popen: subprocess.Popen[bytes]
    logs: tuple[Path, Path] | None = None
    stop_signal: signal.Signals = signal.SIGTERM

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> tuple[str, str]:
        if self.logs is None:
            return "", ""
        stdout, stderr = self.logs
        return stdout.read_text(errors="replace"), stderr.read_text(errors="replace")

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> Exit:
        """The stop signal, as `docker stop` sends it, then wait for a graceful exit."""
        if self.popen.poll() is None:
            self.popen.send_signal(self.stop_signal)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            stdout, stderr = self.output()
            ignored = f"\n[stack] {self.name} ignored {self.stop_signal.name}\n"
            return Exit(None, stdout, stderr + ignored)
        return Exit(self.popen.returncode, *self.output())


def start(
    name: str,
    command: list[str],
    environment: dict[str, str],
    *,
    log_dir: Path | None,
    stop_signal: signal.Signals = signal.SIGTERM,
    append_logs: bool = False,
) -> Process:
    """Start `command` in the checkout with exactly `environment`, logging to `log_dir`
    (after what is there already, with `append_logs`)."""
    logs = None
    stdout: IO[bytes] | None = None
    stderr: IO[bytes] | None = None
    if log_dir is not None:
        logs = (log_dir / f"{name}.stdout.log", log_dir / f"{name}.stderr.log")
        mode = "ab" if append_logs else "wb"
        stdout, stderr = logs[0].open(mode), logs[1].open(mode)
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
    return Process(name, popen, logs, stop_signal)


def kill(process: Process) -> None:
    """SIGKILL to the process's session (it leads one of its own: `start`), so that a
    gunicorn's workers die with their master, as in a container; then reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.popen.wait()


def wait_until_serving(process: Process, url: str, timeout: float = START_TIMEOUT_SECONDS) -> None:
    """Until `url` answers 200, as compose's healthcheck asks; a process that exits fails."""
    deadline = time.monotonic() + timeout
    with requests.Session() as session:
        session.trust_env = False  # a local server: no proxy from the environment
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                raise StackError(
                    f"{process.name} exited with {process.popen.returncode} while starting:\n"
                    + process.output()[1][-_TAIL:]
                )
            try:
                if session.get(url, timeout=1).status_code == HTTPStatus.OK:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
    raise StackError(f"{process.name} did not answer {url} within {timeout:.0f} s")


def run_to_completion(
    name: str,
    command: list[str],
    environment: dict[str, str],
    *,
    log_dir: Path | None,
    timeout: float,
) -> Exit:
    """Run a one-off job that must succeed, as compose's `service_completed_successfully`.

    Interrupted or out of time, the job is stopped rather than left running on its own.
    """
    process = start(name, command, environment, log_dir=log_dir)
    try:
        process.popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.stop()
        raise StackError(f"{name} did not finish within {timeout:.0f} s") from None
    except BaseException:
        process.stop()
        raise
    exit_ = Exit(process.popen.returncode, *process.output())
    if exit_.returncode != 0:
        raise StackError(f"{name} failed with status {exit_.returncode}:\n{exit_.stderr[-_TAIL:]}")
    return exit_


def stop_newest_first(processes: dict[str, Process]) -> dict[str, Exit]:
    """Stop and remove every process, the last started first; each one's exit by name.

    One at a time, so that whatever an interruption leaves is still there to stop.
    """
    exits = {}
    while processes:
        name = next(reversed(processes))
        exits[name] = processes[name].stop()
        del processes[name]
    return exits
