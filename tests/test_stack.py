"""`make stack`: the compose topology as plain processes, started, used and stopped for real.

One run of the stack (renderer and identidock under gunicorn, after `migrate`, behind
nginx, on a scratch database and the suite's Redis database) is shared by the tests of
this module; each test checks one thing that run recorded.
"""

from __future__ import annotations

import os
import re
import signal
import socket
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pytest

from scripts.stack import StackError, compose, databases, ports, processes, smoke
from scripts.stack import __main__ as stack_main
from scripts.stack.processes import Exit
from scripts.stack.topology import Stack
from tests import per_run
from tests.waiting import eventually

SECRETS = {
    "SECRET_KEY": "stack-test-" + "k" * 40,
    "POSTGRES_PASSWORD": "unused",
    "IDENTIDOCK_SALT": "stack-test-salt-" + "s" * 16,
}


@dataclass
class StackRun:
    database_url: str
    report: smoke.SmokeReport
    migrate: Exit | None  # None only when migrate never ran
    exits: dict[str, Exit]
    generations: int
    proxy_port: int
    web_port: int


@pytest.fixture(scope="module")
def stack_run(tmp_path_factory) -> StackRun:
    database_url = databases.scratch_database_url(os.environ["DATABASE_URL"])
    databases.create_database(database_url)
    try:
        running = Stack(
            database_url=database_url,
            redis_url=os.environ["REDIS_URL"],
            # The run's own cache keys: other test runs may share this Redis database.
            variables={
                **SECRETS,
                "GUNICORN_WORKERS": "2",
                "CACHE_KEY_PREFIX": per_run.cache_key_prefix(),
            },
            log_dir=tmp_path_factory.mktemp("stack-logs"),
        )
        with running:
            report = smoke.smoke(running.url)
            exits = running.stop()
        with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM monsters_generation")
            (generations,) = cursor.fetchone() or (None,)
        connection.close()
    finally:
        databases.drop_database(database_url)
    return StackRun(
        database_url,
        report,
        running.migrate_exit,
        exits,
        generations,
        proxy_port=running.port,
        web_port=running.web_port,
    )


def test_migrate_runs_first_and_succeeds(stack_run):
    assert stack_run.migrate.returncode == 0
    assert "Applying monsters.0001_initial... OK" in stack_run.migrate.stdout


def test_page_shows_the_submitted_names_monster(stack_run):
    assert stack_run.report.form.status_code == HTTPStatus.OK
    assert stack_run.report.page.status_code == HTTPStatus.OK
    assert stack_run.report.monster_path.startswith("/monster/")


def test_stylesheet_is_served_from_the_collected_static_files(stack_run):
    stylesheet = stack_run.report.stylesheet
    assert stylesheet.status_code == HTTPStatus.OK
    assert stylesheet.headers["Content-Type"].startswith("text/css")


def test_monster_is_drawn_once_then_served_from_redis(stack_run):
    first, second = stack_run.report.monsters
    assert (first.status_code, second.status_code) == (HTTPStatus.OK, HTTPStatus.OK)
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("MISS", "HIT")
    assert first.content == second.content
    assert first.content.startswith(b"\x89PNG")


def test_the_miss_is_recorded_once_in_postgres(stack_run):
    assert stack_run.generations == 1


def test_renderer_drew_the_monster_as_a_separate_service(stack_run):
    renderer_log = stack_run.exits["dnmonster"].stdout
    assert renderer_log.count("GET /monster/") == 2  # the page's monster and the readyz probe
    assert "GET /monster/readyz?size=8" in renderer_log


def test_healthz_answers(stack_run):
    assert stack_run.report.healthz.status_code == HTTPStatus.OK


def test_readyz_sees_postgres_redis_and_the_renderer_up(stack_run):
    # The world gets the verdict alone; the components are on the metrics port
    # (tests/test_health.py, tests/test_metrics_server.py).
    readyz = stack_run.report.readyz
    assert (readyz.status_code, readyz.text) == (HTTPStatus.OK, "ready\n")


def test_identidock_runs_through_the_start_script_with_gunicorn_conf(stack_run):
    identidock = stack_run.exits["identidock"]
    assert "Running the production server (ENV=PROD)" in identidock.stdout
    # The start script's `check --deploy` ran, and found none of our errors.
    assert "System check identified" in identidock.stdout + identidock.stderr
    assert "identidock.E" not in identidock.stdout + identidock.stderr
    assert "Using worker: gthread" in identidock.stderr
    # The access log goes to stdout, with the time taken.
    assert '"GET /healthz HTTP/1.1" 200' in identidock.stdout


def test_people_reach_the_site_through_the_proxy(stack_run):
    assert urlsplit(stack_run.report.page.url).port == stack_run.proxy_port
    assert stack_run.web_port != stack_run.proxy_port
    proxy_log = stack_run.exits["proxy"].stdout
    for request in ('"GET / HTTP/1.1" 200', '"POST / HTTP/1.1" 200', '"GET /healthz HTTP/1.1" 200'):
        assert request in proxy_log
    # gunicorn got the same requests, from the proxy on the loopback.
    assert re.search(
        r'^127\.0\.0\.1 .* "POST / HTTP/1\.1" 200', stack_run.exits["identidock"].stdout, re.M
    )


def test_every_answer_carries_its_own_request_id_which_the_proxy_logs(stack_run):
    answers = [stack_run.report.page, *stack_run.report.monsters, stack_run.report.readyz]
    ids = [answer.headers["X-Request-ID"] for answer in answers]
    assert all(re.fullmatch(r"[0-9a-f]{32}", request_id) for request_id in ids)
    assert len(set(ids)) == len(ids)
    assert f"id={ids[0]}" in stack_run.exits["proxy"].stdout


def test_sigquit_stops_the_proxy_gracefully(stack_run):
    proxy = stack_run.exits["proxy"]
    assert proxy.returncode == 0
    assert "gracefully shutting down" in proxy.stderr
    assert not re.search(r"\[(emerg|alert|crit|error)\]", proxy.stderr), proxy.stderr


@pytest.mark.parametrize("service", ["identidock", "dnmonster"])
def test_sigterm_stops_each_server_gracefully(stack_run, service):
    exit_ = stack_run.exits[service]
    assert exit_.returncode == 0
    assert "Handling signal: term" in exit_.stderr
    assert "Shutting down: Master" in exit_.stderr
    assert "Traceback" not in exit_.stderr
    assert "Error" not in exit_.stderr


def test_every_check_make_stack_prints_passes(stack_run):
    # What each check looks at has a test of its own above; here, that none fails.
    checks = {label: passed for label, passed, _ in stack_run.report.checks()}
    assert checks, "make stack printed no checks"
    assert [label for label, passed in checks.items() if not passed] == []


def test_scratch_database_is_dropped_afterwards(stack_run):
    assert not databases.database_exists(stack_run.database_url)


# --- The runner's own pieces ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("${A}", {"A": "1"}, "1"),
        ("$A-x", {"A": "1"}, "1-x"),
        ("${A:-d}", {}, "d"),
        ("${A:-d}", {"A": ""}, "d"),
        ("${A-d}", {"A": ""}, ""),
        ("${A:-}", {}, ""),
        ("${A:?needed}", {"A": "v"}, "v"),
        ("cost: $$5", {}, "cost: $5"),
        ("${A:-localhost},127.0.0.1", {}, "localhost,127.0.0.1"),
    ],
)
def test_interpolation_follows_compose(text, variables, expected):
    assert compose.interpolate(text, variables) == expected


def test_make_stack_keeps_a_salt_of_its_own_not_the_public_one(monkeypatch, tmp_path):
    monkeypatch.setattr(stack_main, "ROOT", tmp_path)
    monkeypatch.delenv("IDENTIDOCK_SALT", raising=False)
    salt = stack_main.local_variables(5000)["IDENTIDOCK_SALT"]
    assert len(salt) >= 32
    assert salt != "UNIQUE_SALT"
    assert (tmp_path / "var" / "identidock_salt").stat().st_mode & 0o077 == 0
    assert stack_main.local_variables(5000)["IDENTIDOCK_SALT"] == salt  # the same every run
    monkeypatch.setenv("IDENTIDOCK_SALT", "the operator's own")
    assert stack_main.local_variables(5000)["IDENTIDOCK_SALT"] == "the operator's own"


def test_make_stack_shares_urls_of_the_address_it_serves_at(monkeypatch, tmp_path):
    monkeypatch.setattr(stack_main, "ROOT", tmp_path)
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    assert stack_main.local_variables(5123)["PUBLIC_BASE_URL"] == "http://127.0.0.1:5123"
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://monsters.example")
    assert stack_main.local_variables(5123)["PUBLIC_BASE_URL"] == "https://monsters.example"


def test_interpolation_refuses_a_missing_required_variable_with_its_message():
    with pytest.raises(StackError, match="A is required: set A please"):
        compose.interpolate("${A:?set A please}", {})


def test_service_urls_are_mapped_to_local_servers_and_nothing_else_changes():
    environment = {
        "DATABASE_URL": "postgres://identidock:pw@postgres:5432/identidock",
        "REDIS_URL": "redis://redis:6379/0",
        "ELSEWHERE": "http://example.com/",
        "ALLOWED_HOSTS": "localhost,127.0.0.1,[::1]",
    }
    local = compose.localize(
        environment,
        {"postgres": "postgres://postgres@127.0.0.1:5432/x", "redis": "redis://127.0.0.1:6379/13"},
    )
    assert local == {
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x",
        "REDIS_URL": "redis://127.0.0.1:6379/13",
        "ELSEWHERE": "http://example.com/",
        "ALLOWED_HOSTS": "localhost,127.0.0.1,[::1]",
    }


def test_container_commands_get_a_local_bind_and_the_virtualenvs_tools():
    command = compose.localize_command(
        ["gunicorn", "--config", "gunicorn.conf.py", "--bind", "0.0.0.0:8080", "app"],
        bind="127.0.0.1:8301",
    )
    assert command[0] == str(compose.VENV_BIN / "gunicorn")
    assert command[1:] == ["--config", "gunicorn.conf.py", "--bind", "127.0.0.1:8301", "app"]


def _alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie nobody has reaped yet."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_kill_ends_a_server_and_everything_it_started_at_once(tmp_path):
    sleeper = processes.start(
        "sleeper",
        ["sh", "-c", "sleep 60 & echo $!; wait"],
        {"PATH": "/usr/bin:/bin"},
        log_dir=tmp_path,
    )
    stdout = tmp_path / "sleeper.stdout.log"
    assert eventually(lambda: stdout.read_text().strip(), timeout=5), "no child started"
    child = int(stdout.read_text())
    processes.kill(sleeper)
    assert sleeper.popen.returncode == -signal.SIGKILL
    assert eventually(lambda: not _alive(child), timeout=5)


def test_free_port_is_one_nothing_holds():
    port = ports.free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_free_port_passes_over_a_port_in_use_and_says_when_none_is_left():
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        taken = held.getsockname()[1]
        with pytest.raises(StackError, match=f"no free port in {taken}..{taken}"):
            ports.free_port(range(taken, taken + 1))
