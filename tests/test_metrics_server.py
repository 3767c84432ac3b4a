"""The metrics a real gunicorn serves: summed over its workers, on a port of their
own, in a format promtool accepts."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest
import requests

from monsters.images import identity
from tests import gunicorn_server
from tests.ports import free_port


@pytest.fixture(scope="module")
def gunicorn() -> Iterator[tuple[str, str]]:
    """(site URL, metrics URL) of the web app under gunicorn.conf.py, two workers."""
    metrics_port = free_port()
    metrics = f"http://127.0.0.1:{metrics_port}/metrics"
    environment = {
        "SECRET_KEY": "metrics-server-test-only",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": "sqlite:///:memory:",
        "METRICS_PORT": str(metrics_port),
        "GUNICORN_ACCESS_LOG": "off",
    }
    with gunicorn_server.gunicorn(
        environment, workers=2, ready=lambda address: _answers(address, metrics)
    ) as address:
        yield f"http://{address}", metrics


def _answers(address: str, metrics: str) -> bool:
    try:
        requests.get(f"http://{address}/healthz", timeout=2)
        requests.get(metrics, timeout=2)
    except (requests.ConnectionError, requests.Timeout):  # a worker still booting
        return False
    return True


def counted(metrics_url: str, series: str) -> float:
    for line in requests.get(metrics_url, timeout=5).text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0.0


def test_requests_to_every_worker_add_up_on_the_metrics_port(gunicorn):
    site, metrics = gunicorn
    series = 'identidock_http_requests_total{route="probe",status="200"}'
    before = counted(metrics, series)
    for _ in range(40):  # a new connection each time: both workers take some
        requests.get(f"{site}/healthz", timeout=5, headers={"Connection": "close"})
    assert counted(metrics, series) == before + 40


def test_the_site_does_not_serve_metrics(gunicorn):
    site, _ = gunicorn
    assert requests.get(f"{site}/metrics", timeout=5).status_code == 404


def test_the_scrape_passes_promtool(gunicorn):
    site, metrics = gunicorn
    requests.get(f"{site}/monster/{identity.hash_name('Moby Dock')}", timeout=30)
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: apt-get install -y prometheus"
    scrape = requests.get(metrics, timeout=5).content
    assert b"identidock_cache_lookups_total" in scrape
    result = subprocess.run([promtool, "check", "metrics"], input=scrape, capture_output=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_readiness_details_are_on_the_metrics_port(gunicorn):
    site, metrics = gunicorn
    assert requests.get(f"{site}/readyz", timeout=10).text == "ready\n"
    # Each worker that checked says so; the scrape shows the lowest.
    assert counted(metrics, 'identidock_readiness_up{backend="builtin",component="renderer"}') == 1
    assert 'identidock_readiness_check_seconds{component="database"}' in (
        requests.get(metrics, timeout=5).text
    )
