"""Benchmark: what asking the renderer costs this process, by HTTP client.

A miss asks the renderer for one PNG. This measures the CPU that one fetch costs the
asking process (not the renderer's), for the same new ids against the renderer under
gunicorn.conf.py on 127.0.0.1, with each client kept alive over the whole run:

    pool_manager     urllib3.PoolManager.urlopen, as monsters/guards/sources.py asked
                     until this round
    connection_pool  urllib3.HTTPConnectionPool.urlopen: one pool for the one renderer,
                     no per-call lookup of a pool by scheme, host and port
    http_client      the standard library's http.client.HTTPConnection, one per thread

Each client reads the status, Content-Type, Content-Length and the body, as
`sources.DnmonsterSource` does. Interleaved rounds; the median CPU microseconds per
fetch of each, and its ratio to pool_manager's. Writes
bench/results/<date>-renderer_clients.md.

    .venv/bin/python bench/renderer_clients.py [--fetches 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import http.client
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import urllib3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import servers  # noqa: E402 - needs ROOT on the path
from bench.results import recorded  # noqa: E402

TIMEOUT = urllib3.Timeout(connect=2.0, read=5.0)
Fetch = Callable[[str], bytes]


def pool_manager(base_url: str) -> Fetch:
    manager = urllib3.PoolManager(num_pools=4, maxsize=32, block=False, retries=False)

    def fetch(path: str) -> bytes:
        response = manager.urlopen("GET", base_url + path, timeout=TIMEOUT, redirect=False)
        response.headers.get("Content-Type"), response.headers.get("Content-Length")
        return response.data

    return fetch


def connection_pool(base_url: str) -> Fetch:
    pool = urllib3.connection_from_url(base_url, maxsize=32, block=False, retries=False)

    def fetch(path: str) -> bytes:
        response = pool.urlopen("GET", path, timeout=TIMEOUT, redirect=False)
        response.headers.get("Content-Type"), response.headers.get("Content-Length")
        return response.data

    return fetch


def http_client(base_url: str) -> Fetch:
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5.0)

    def fetch(path: str) -> bytes:
        connection.request("GET", path)
        response = connection.getresponse()
        response.getheader("Content-Type"), response.getheader("Content-Length")
        return response.read()

    return fetch


CLIENTS = {"pool_manager": pool_manager, "connection_pool": connection_pool}
CLIENTS["http_client"] = http_client


def cpu_us_per_fetch(fetch: Fetch, count: int) -> float:
    prefix = secrets.token_hex(24)
    started = time.process_time()
    for n in range(count):
        if not fetch(f"/monster/{prefix}{n:016x}?size=80").startswith(b"\x89PNG"):
            raise SystemExit("the renderer answered something that is not a PNG")
    return (time.process_time() - started) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--fetches", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        renderer = servers.start_server(
            "renderer",
            servers.RENDERER_APP,
            servers.base_environment(),
            Path(directory),
            "/healthz",
        )
        try:
            fetchers = {name: make(renderer.url) for name, make in CLIENTS.items()}
            for fetch in fetchers.values():
                cpu_us_per_fetch(fetch, 100)  # connected, loaded
            measured: dict[str, list[float]] = {name: [] for name in fetchers}
            for number in range(1, arguments.rounds + 1):
                for name, fetch in fetchers.items():
                    measured[name].append(cpu_us_per_fetch(fetch, arguments.fetches))
                figures = "  ".join(
                    f"{name} {values[-1]:,.1f}" for name, values in measured.items()
                )
                print(f"round {number}: {figures} us/fetch")
        finally:
            renderer.stop()
    base = statistics.median(measured["pool_manager"])
    print(f"\n{arguments.fetches:,} fetches a round, {arguments.rounds} rounds; median CPU:")
    for name, values in measured.items():
        median = statistics.median(values)
        print(f"  {name:16} {median:8,.1f} us/fetch  {median / base:.2f} x pool_manager")


if __name__ == "__main__":
    with recorded("renderer_clients"):
        main()
