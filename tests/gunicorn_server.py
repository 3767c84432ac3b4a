"""The web app under the shipped gunicorn.conf.py, in a process of a test's own."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.ports import free_port

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def gunicorn(
    environment: dict[str, str],
    *,
    workers: int = 1,
    ready: Callable[[str], bool] | None = None,
    start_seconds: float = 60.0,
    log: Path | None = None,
) -> Iterator[str]:
    """`identidock.wsgi` under gunicorn with nothing of the caller's environment but
    `environment`: yields its address (`127.0.0.1:<port>`) once it accepts connections
    and `ready(address)`, if given, says so; at the end SIGTERM, gunicorn's graceful
    stop, and a wait for it. `log`: a file for its standard error (the app's log),
    else it is thrown away."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
        + ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "identidock.wsgi"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **environment},
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab") if log is not None else subprocess.DEVNULL,
    )
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_seconds
        while not (_accepts(port) and (ready is None or ready(address))):
            assert process.poll() is None, "gunicorn exited"
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.05)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=60)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
