"""gunicorn.conf.py: defaults for a small box, every value tunable from the environment."""

from __future__ import annotations

import contextlib
import os
import runpy
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "gunicorn.conf.py"
GUNICORN = Path(sys.executable).parent / "gunicorn"
# The renderer's WSGI app (compose's `dnmonster` command): run with this file, no metrics.
RENDERER_APP = "renderer.wsgi:app"
TUNING = (
    "GUNICORN_WORKERS",
    "GUNICORN_THREADS",
    "GUNICORN_WORKER_CLASS",
    "GUNICORN_TIMEOUT",
    "GUNICORN_GRACEFUL_TIMEOUT",
    "GUNICORN_KEEPALIVE",
    "GUNICORN_MAX_REQUESTS",
    "GUNICORN_MAX_REQUESTS_JITTER",
    "GUNICORN_LOG_LEVEL",
    "GUNICORN_ACCESS_LOG",
    "GUNICORN_CONTROL_SOCKET",
    "FORWARDED_ALLOW_IPS",
)


@pytest.fixture
def load(monkeypatch):
    """Read the config file as gunicorn does, with only the given tuning variables set."""

    def _load(**environment: str) -> dict:
        for name in TUNING:
            monkeypatch.delenv(name, raising=False)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(str(CONFIG))

    return _load


def test_defaults_bind_port_5000_with_threaded_workers(load):
    config = load()
    assert config["bind"] == ["0.0.0.0:5000"]
    assert config["worker_class"] == "gthread"
    assert config["threads"] > 1
    assert config["workers"] == config["default_workers"](len(os.sched_getaffinity(0)))


def test_workers_are_not_recycled_unless_asked(load):
    # gunicorn's 0: a worker is never replaced for having served many requests.
    assert load()["max_requests"] == 0


def test_recycling_when_asked_is_jittered_by_a_tenth_unless_the_jitter_is_given(load):
    config = load(GUNICORN_MAX_REQUESTS="100000")
    assert (config["max_requests"], config["max_requests_jitter"]) == (100_000, 10_000)
    config = load(GUNICORN_MAX_REQUESTS="100000", GUNICORN_MAX_REQUESTS_JITTER="0")
    assert config["max_requests_jitter"] == 0


def test_connections_are_kept_alive_and_requests_drain_before_compose_kills(load):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    stop_grace_seconds = int(compose["services"]["identidock"]["stop_grace_period"].rstrip("s"))
    config = load()
    assert config["keepalive"] > 0
    assert 0 < config["graceful_timeout"] < stop_grace_seconds
    assert config["timeout"] > 0


def test_defaults_log_access_to_stdout_and_trust_only_local_proxies(load):
    config = load()
    assert config["accesslog"] == "-"
    assert config["errorlog"] == "-"
    assert config["forwarded_allow_ips"] == "127.0.0.1,::1"


@pytest.mark.parametrize(("value", "accesslog"), [("off", None), ("false", None), ("on", "-")])
def test_the_access_log_can_be_turned_off(load, value, accesslog):
    config = load(GUNICORN_ACCESS_LOG=value)
    assert config["accesslog"] == accesslog
    assert config["errorlog"] == "-"  # gunicorn's own log stays


@pytest.mark.parametrize(("cores", "workers"), [(1, 3), (2, 5), (3, 7), (4, 8), (64, 8)])
def test_default_workers_are_two_per_core_plus_one_capped_at_eight(load, cores, workers):
    assert load()["default_workers"](cores) == workers


def test_every_value_can_be_tuned_from_the_environment(load):
    config = load(
        GUNICORN_WORKERS="3",
        GUNICORN_THREADS="8",
        GUNICORN_WORKER_CLASS="sync",
        GUNICORN_TIMEOUT="60",
        GUNICORN_GRACEFUL_TIMEOUT="25",
        GUNICORN_KEEPALIVE="75",
        GUNICORN_MAX_REQUESTS="500",
        GUNICORN_MAX_REQUESTS_JITTER="50",
        GUNICORN_LOG_LEVEL="warning",
        GUNICORN_ACCESS_LOG="off",
        FORWARDED_ALLOW_IPS="10.0.0.0/8",
    )
    assert config["workers"] == 3
    assert config["threads"] == 8
    assert config["worker_class"] == "sync"
    assert (config["timeout"], config["graceful_timeout"], config["keepalive"]) == (60, 25, 75)
    assert (config["max_requests"], config["max_requests_jitter"]) == (500, 50)
    assert config["loglevel"] == "warning"
    assert config["accesslog"] is None
    assert config["forwarded_allow_ips"] == "10.0.0.0/8"


def test_empty_values_mean_the_defaults(load):
    # docker-compose.yml passes `${GUNICORN_WORKERS:-}`: empty when the operator sets none.
    empty = load(**dict.fromkeys(TUNING, ""))
    defaults = load()
    for setting in (
        "workers",
        "threads",
        "worker_class",
        "timeout",
        "graceful_timeout",
        "keepalive",
        "max_requests",
        "max_requests_jitter",
        "accesslog",
        "loglevel",
        "forwarded_allow_ips",
        "control_socket_disable",
    ):
        assert empty[setting] == defaults[setting], setting


@pytest.mark.parametrize("value", ["many", "-1", "0", "2.5"])
def test_a_worker_count_that_is_not_a_positive_whole_number_is_refused(load, value):
    with pytest.raises(SystemExit, match="GUNICORN_WORKERS must be a whole number of at least 1"):
        load(GUNICORN_WORKERS=value)


def test_an_access_log_switch_that_is_neither_on_nor_off_is_refused(load):
    with pytest.raises(
        SystemExit, match=r"^Error: GUNICORN_ACCESS_LOG must be true or false .*, not 'maybe'\.$"
    ):
        load(GUNICORN_ACCESS_LOG="maybe")


def test_the_control_socket_is_off_unless_a_path_is_given(load, tmp_path):
    assert load()["control_socket_disable"] is True
    config = load(GUNICORN_CONTROL_SOCKET=str(tmp_path / "identidock.ctl"))
    assert config["control_socket_disable"] is False
    assert config["control_socket"] == str(tmp_path / "identidock.ctl")


def _gunicorn(*args: str, **environment: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in TUNING}
    clean.update(environment, SECRET_KEY="x" * 50, DJANGO_SETTINGS_MODULE="identidock.settings")
    return subprocess.run(
        [str(GUNICORN), "--config", str(CONFIG), *args, "identidock.wsgi"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_gunicorn_itself_reads_the_file(tmp_path):
    result = _gunicorn("--print-config", GUNICORN_THREADS="6")
    assert result.returncode == 0, result.stderr
    lines = [line.split("=", 1) for line in result.stdout.splitlines() if "=" in line]
    settings = {name.strip(): value.strip() for name, value in lines}
    assert settings["worker_class"] == "gthread"
    assert settings["threads"] == "6"
    assert settings["bind"] == "['0.0.0.0:5000']"
    assert settings["accesslog"] == "-"


def test_command_line_bind_wins_over_the_file():
    # `make run` and `make stack` rely on this to stay off 0.0.0.0.
    result = _gunicorn("--print-config", "--bind", "127.0.0.1:8399")
    assert "['127.0.0.1:8399']" in result.stdout


def test_gunicorn_refuses_a_bad_value_with_one_clear_line_and_no_traceback():
    result = _gunicorn("--check-config", GUNICORN_THREADS="lots")
    assert result.returncode != 0
    assert "GUNICORN_THREADS must be a whole number of at least 1, not 'lots'." in result.stderr
    assert "Traceback" not in result.stderr


@contextlib.contextmanager
def _serving(app: str, stdout: Path, **environment: str) -> Iterator[int]:
    """gunicorn with this file serving `app` on a free port, once /healthz answers."""
    port = _free_port()
    clean = {k: v for k, v in os.environ.items() if k not in TUNING}
    clean.update(environment, GUNICORN_WORKERS="1")
    with stdout.open("wb") as out:
        server = subprocess.Popen(
            [str(GUNICORN), "--config", str(CONFIG), "--bind", f"127.0.0.1:{port}", app],
            cwd=ROOT,
            env=clean,
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                assert server.poll() is None, "gunicorn exited"
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        yield port
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _metrics_answer(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2):
            return True
    except OSError:
        return False


@pytest.mark.parametrize(("switch", "logged"), [("on", True), ("off", False)])
def test_a_served_request_is_logged_only_while_the_access_log_is_on(tmp_path, switch, logged):
    stdout = tmp_path / "stdout"
    with _serving(RENDERER_APP, stdout, GUNICORN_ACCESS_LOG=switch):
        pass
    assert ('"GET /healthz HTTP/1.1" 200' in stdout.read_text()) is logged


@pytest.mark.parametrize("app", ["identidock.wsgi", "identidock.wsgi:application"])
def test_the_web_app_serves_its_metrics_from_the_master(tmp_path, app):
    metrics_port = _free_port()
    web_app = {"SECRET_KEY": "x" * 50, "DJANGO_SETTINGS_MODULE": "identidock.settings"}
    with _serving(app, tmp_path / "stdout", METRICS_PORT=str(metrics_port), **web_app):
        assert _metrics_answer(metrics_port)


def test_the_renderer_serves_no_metrics_even_with_a_metrics_port(tmp_path):
    # compose's `dnmonster` runs with this file and METRICS_PORT's default.
    metrics_port = _free_port()
    with _serving(RENDERER_APP, tmp_path / "stdout", METRICS_PORT=str(metrics_port)):
        # when_ready has run: the master calls it before it starts the workers.
        assert not _metrics_answer(metrics_port)


@pytest.mark.parametrize(
    ("app_uri", "serves"),
    [
        ("identidock.wsgi", True),
        ("identidock.wsgi:application", True),
        # Not the whole stack: its requests would go uncounted.
        ("identidock.wsgi:django_application", False),
        (RENDERER_APP, False),
        # What a substring test took for the web app.
        ("identidock.wsgi_renderer:app", False),
        ("tests.identidock.wsgi:application", False),
        (None, False),
    ],
)
def test_the_metrics_follow_the_application_gunicorn_loads(load, app_uri, serves):
    assert load()["serves_web_app"](app_uri) is serves
