"""The shipped proxy (docker/nginx's template, rendered as `make stack` renders it) on a
free loopback port, in front of an upstream of the test's choosing."""

from __future__ import annotations

import contextlib
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from scripts.stack import compose, processes, proxy
from tests.ports import free_port

START_SECONDS = 30


@contextlib.contextmanager
def shipped_proxy(
    upstream: str, log_dir: Path, *, ready_path: str | None = "/healthz"
) -> Iterator[str]:
    """nginx in front of `upstream` (host:port), its output in `log_dir`; its base URL
    once it answers `ready_path` with a 200, or with `ready_path` None once it answers
    at all (an upstream nobody listens on makes every answer a 502). Stopped as compose
    stops it (SIGQUIT), its prefix removed, when the block ends."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    prefix = Path(tempfile.mkdtemp(prefix="identidock-proxy-test-"))
    config = proxy.write_config(prefix, listen=f"127.0.0.1:{port}", upstream=upstream)
    nginx = processes.start(
        "proxy",
        proxy.command(config),
        compose.image_environment(),
        log_dir=log_dir,
        stop_signal=signal.SIGQUIT,
    )
    try:
        if ready_path is None:
            _wait_until_answering(url)
        else:
            processes.wait_until_serving(nginx, url + ready_path)
        yield url
    finally:
        nginx.stop()
        shutil.rmtree(prefix, ignore_errors=True)


def _wait_until_answering(url: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            requests.get(url + "/", timeout=5)
            return
        except requests.ConnectionError:
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)
