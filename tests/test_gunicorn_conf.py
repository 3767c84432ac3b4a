"""gunicorn.conf.py: defaults for a small box, every value tunable from the environment."""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "gunicorn.conf.py"
GUNICORN = Path(sys.executable).parent / "gunicorn"
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


def test_defaults_recycle_workers_with_jitter_and_drain_gracefully(load):
    config = load()
    assert 0 < config["max_requests_jitter"] < config["max_requests"]
    # A request in flight at SIGTERM may take as long as any other before it is cut off.
    assert 0 < config["graceful_timeout"] <= config["timeout"]
    assert config["keepalive"] > 0


# README's "Gunicorn tuning" table: variable -> the setting it tunes.
DOCUMENTED = {
    "GUNICORN_THREADS": "threads",
    "GUNICORN_WORKER_CLASS": "worker_class",
    "GUNICORN_TIMEOUT": "timeout",
    "GUNICORN_GRACEFUL_TIMEOUT": "graceful_timeout",
    "GUNICORN_KEEPALIVE": "keepalive",
    "GUNICORN_MAX_REQUESTS": "max_requests",
    "GUNICORN_MAX_REQUESTS_JITTER": "max_requests_jitter",
    "GUNICORN_LOG_LEVEL": "loglevel",
    "FORWARDED_ALLOW_IPS": "forwarded_allow_ips",
}


def test_the_defaults_are_the_ones_the_readme_documents(load):
    rows = re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", (ROOT / "README.md").read_text(), re.M)
    documented = {name: default for name, default in rows if name in DOCUMENTED}
    assert set(documented) == set(DOCUMENTED)
    config = load()
    assert {name: str(config[setting]) for name, setting in DOCUMENTED.items()} == documented


def test_defaults_log_access_to_stdout_and_trust_only_local_proxies(load):
    config = load()
    assert config["accesslog"] == "-"
    assert config["errorlog"] == "-"
    assert config["forwarded_allow_ips"] == "127.0.0.1,::1"


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
        FORWARDED_ALLOW_IPS="10.0.0.0/8",
    )
    assert config["workers"] == 3
    assert config["threads"] == 8
    assert config["worker_class"] == "sync"
    assert (config["timeout"], config["graceful_timeout"], config["keepalive"]) == (60, 25, 75)
    assert (config["max_requests"], config["max_requests_jitter"]) == (500, 50)
    assert config["loglevel"] == "warning"
    assert config["forwarded_allow_ips"] == "10.0.0.0/8"


def test_empty_values_mean_the_defaults(load):
    # docker-compose.yml passes `${GUNICORN_WORKERS:-}`: empty when the operator sets none.
    empty = load(**dict.fromkeys(TUNING, ""))
    defaults = load()
    for setting in ("workers", *DOCUMENTED.values(), "control_socket_disable"):
        assert empty[setting] == defaults[setting]


@pytest.mark.parametrize("value", ["many", "-1", "0", "2.5"])
def test_a_worker_count_that_is_not_a_positive_whole_number_is_refused(load, value):
    with pytest.raises(SystemExit, match="GUNICORN_WORKERS must be a whole number of at least 1"):
        load(GUNICORN_WORKERS=value)


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
