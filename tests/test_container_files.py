"""The container files, checked without a Docker engine: linters, schemas and the wiring.

hadolint lints the Dockerfile, shellcheck the start script, check-jsonschema validates
every compose file against the Compose Specification, Debian's `nginx -t` the proxy's
configuration; the rest parses the files and checks that the services are wired as the
settings, gunicorn.conf.py and the proxy's template expect.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from renderer import RENDERER_VERSION
from scripts.stack import StackError, compose, proxy

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DOCKERFILE = ROOT / "Dockerfile"
START_SCRIPT = ROOT / "docker" / "cmd.sh"
COMPOSE_FILES = sorted(ROOT.glob("docker-compose*.yml"))
BASE = ROOT / "docker-compose.yml"
DEV = ROOT / "docker-compose.dev.yml"
ORIGINAL_RENDERER = ROOT / "docker-compose.dnmonster.yml"
# What the compose file needs from the operator; the stack test supplies the same.
SECRETS = {"SECRET_KEY": "k" * 50, "POSTGRES_PASSWORD": "pw", "IDENTIDOCK_SALT": "s" * 32}


def _tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is missing: install requirements/dev.txt (make test does)"
    return str(path)


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


def _compose(path: Path = BASE) -> dict:
    return yaml.safe_load(path.read_text())


def _service(name: str, path: Path = BASE) -> dict:
    return _compose(path)["services"][name]


def _environment(service: str, **variables: str) -> dict[str, str]:
    return compose.service_environment(_compose(), service, {**SECRETS, **variables})


def _variables_read_by(path: Path) -> set[str]:
    """Every environment variable a settings-like module reads, found in its source."""
    source = path.read_text()
    names = set(
        re.findall(r'(?:os\.environ\.get|os\.getenv|_env_\w+)\(\s*"([A-Z][A-Z0-9_]*)"', source)
    )
    names |= set(re.findall(r'os\.environ\[\s*"([A-Z][A-Z0-9_]*)"\s*\]', source))
    if "dj_database_url.config(" in source:
        names.add("DATABASE_URL")  # dj-database-url reads it by default
    return names


def _dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuations joined), split into stages."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(re.sub(r"\s+", " ", line))
    return stages


def _instructions(stage: list[str], keyword: str) -> list[str]:
    return [line[len(keyword) + 1 :] for line in stage if line.upper().startswith(keyword + " ")]


# --- Linters and schemas -------------------------------------------------------------


def test_hadolint_finds_nothing_in_the_dockerfile():
    result = _run(_tool("hadolint"), "--no-color", "--failure-threshold", "style", "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_hadolint_ignore_is_explained_by_a_comment_above_it():
    lines = DOCKERFILE.read_text().splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore=" in line:
            explanation = lines[number - 1].strip()
            assert explanation.startswith("#") and "hadolint" not in explanation, line


def test_shellcheck_finds_nothing_in_the_start_script():
    result = _run(_tool("shellcheck"), str(START_SCRIPT))
    assert result.returncode == 0, result.stdout + result.stderr


def test_there_are_three_compose_files():
    assert [path.name for path in COMPOSE_FILES] == [
        "docker-compose.dev.yml",
        "docker-compose.dnmonster.yml",
        "docker-compose.yml",
    ]


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda path: path.name)
def test_compose_file_follows_the_compose_specification(path):
    result = _run(_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda path: path.name)
def test_compose_file_has_no_version_and_no_links(path):
    compose = _compose(path)
    assert "version" not in compose
    assert all("links" not in service for service in compose["services"].values())


# --- The Dockerfile ------------------------------------------------------------------


def test_image_is_multi_stage_on_the_python_the_suite_runs_on():
    stages = _dockerfile_stages()
    bases = [_instructions(stage, "FROM")[0].split()[0] for stage in stages]
    python = f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"
    assert len(stages) == 2
    assert all(base.startswith(python) for base in bases)
    assert bases[0] == bases[1]
    assert _instructions(stages[0], "FROM")[0].endswith(" AS builder")


def test_only_the_builder_stage_installs_a_compiler():
    builder, final = _dockerfile_stages()
    assert any("build-essential" in run for run in _instructions(builder, "RUN"))
    assert not any(re.search(r"apt-get|gcc|build-essential", line) for line in final)


def test_final_stage_installs_wheels_from_the_builder_without_keeping_them():
    _, final = _dockerfile_stages()
    install = next(run for run in _instructions(final, "RUN") if "pip install" in run)
    assert "--mount=type=bind,from=builder" in install
    assert "--no-index" in install
    assert not any("/wheels" in copy for copy in _instructions(final, "COPY"))


def test_final_stage_runs_unbuffered_as_a_numeric_non_root_user():
    _, final = _dockerfile_stages()
    assert "PYTHONUNBUFFERED=1" in " ".join(_instructions(final, "ENV"))
    user = _instructions(final, "USER")[-1]
    assert re.fullmatch(r"[1-9][0-9]*:[1-9][0-9]*", user)


def test_collectstatic_runs_at_build_time_with_a_throwaway_key_that_does_not_persist():
    text = DOCKERFILE.read_text()
    _, final = _dockerfile_stages()
    collect = next(run for run in _instructions(final, "RUN") if "collectstatic" in run)
    assert collect.startswith("SECRET_KEY=")
    assert not re.search(r"^\s*(ENV|ARG)\b.*SECRET_KEY", text, re.MULTILINE)


def test_image_exposes_5000_checks_healthz_and_starts_with_the_start_script():
    _, final = _dockerfile_stages()
    assert _instructions(final, "EXPOSE") == ["5000"]
    assert "http://127.0.0.1:5000/healthz" in _instructions(final, "HEALTHCHECK")[0]
    assert _instructions(final, "CMD") == ['["/app/docker/cmd.sh"]']


def test_dockerignore_keeps_local_state_out_of_the_build_context():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", "var/", ".env"):
        assert entry in ignored


# --- The start script ----------------------------------------------------------------


@pytest.fixture
def stub_path(tmp_path) -> str:
    """`python` and `gunicorn` stand-ins that print their argv and PID, then exit."""
    for name in ("python", "gunicorn"):
        stub = tmp_path / name
        stub.write_text(f'#!/bin/sh\necho "$$ {name} $*"\n')
        stub.chmod(0o755)
    return f"{tmp_path}:/usr/bin:/bin"


def _run_start_script(stub_path: str, **environment: str) -> tuple[int, int, list[str]]:
    """(pid, exit status, lines printed) of the start script with the stand-ins."""
    process = subprocess.Popen(
        [str(START_SCRIPT)],
        cwd=ROOT,
        env={"PATH": stub_path, **environment},
        stdout=subprocess.PIPE,
        text=True,
    )
    stdout, _ = process.communicate(timeout=30)
    return process.pid, process.returncode, stdout.splitlines()


def _start(stub_path: str, **environment: str) -> tuple[int, str]:
    pid, returncode, lines = _run_start_script(stub_path, **environment)
    assert returncode == 0
    return pid, lines[-1]


def test_start_script_is_strict_bash():
    text = START_SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -o errexit -o nounset -o pipefail" in text


@pytest.mark.parametrize("env", [None, "PROD", "STAGING"])
def test_start_script_execs_gunicorn_with_its_config_by_default(stub_path, env):
    pid, started = _start(stub_path, **({"ENV": env} if env else {}))
    # exec: the server replaces the script, so it is the process docker signals.
    assert started == f"{pid} gunicorn --config gunicorn.conf.py identidock.wsgi"


@pytest.mark.parametrize("env", [None, "PROD", "STAGING"])
def test_start_script_runs_the_deployment_checks_before_gunicorn(stub_path, env):
    _, returncode, lines = _run_start_script(stub_path, **({"ENV": env} if env else {}))
    assert returncode == 0
    checked, started = (line.split(" ", 1)[1] for line in lines[-2:])
    assert checked == "python manage.py check --deploy --fail-level ERROR"
    assert started == "gunicorn --config gunicorn.conf.py identidock.wsgi"


def test_a_failed_deployment_check_stops_the_start_before_gunicorn(stub_path, tmp_path):
    # `manage.py check` exits non-zero on an error (the public salt, SQLite, ...).
    (tmp_path / "python").write_text('#!/bin/sh\necho "$$ python $*"\n[ "$2" != check ]\n')
    _, returncode, lines = _run_start_script(stub_path)
    assert returncode != 0
    assert lines[-1].endswith("python manage.py check --deploy --fail-level ERROR")
    assert not any(" gunicorn " in line for line in lines)


def test_start_script_runs_the_auto_reloading_server_in_dev(stub_path):
    pid, started = _start(stub_path, ENV="DEV")
    assert started == f"{pid} python manage.py runserver 0.0.0.0:5000"


def test_start_script_runs_the_test_suite_in_unit(stub_path):
    pid, started = _start(stub_path, ENV="UNIT")
    assert started == f"{pid} python -m pytest -p no:cacheprovider"


# --- docker-compose.yml: the wiring --------------------------------------------------


def test_compose_runs_the_six_services():
    services = {"proxy", "identidock", "migrate", "dnmonster", "redis", "postgres"}
    assert set(_compose()["services"]) == services


def test_every_variable_the_settings_read_is_given_to_the_web_app_and_the_migration():
    wanted = _variables_read_by(ROOT / "identidock" / "settings.py")
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DNMONSTER_URL"} <= wanted
    for service in ("identidock", "migrate"):
        missing = wanted - set(_service(service)["environment"])
        assert not missing, f"{service} lacks {sorted(missing)}"


def test_the_configuration_page_lists_every_variable_the_settings_read():
    page = (ROOT / "docs" / "configuration.md").read_text()
    listed = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", page, re.MULTILINE))
    missing = _variables_read_by(ROOT / "identidock" / "settings.py") - listed
    assert not missing, f"docs/configuration.md lacks {sorted(missing)}"


def test_every_gunicorn_tuning_variable_is_given_to_the_web_app():
    wanted = _variables_read_by(ROOT / "gunicorn.conf.py")
    assert {"GUNICORN_WORKERS", "GUNICORN_THREADS", "FORWARDED_ALLOW_IPS"} <= wanted
    assert not wanted - set(_service("identidock")["environment"])


def test_secrets_come_from_the_operator_and_are_required():
    environment = _service("identidock")["environment"]
    assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?")
    with pytest.raises(StackError, match="SECRET_KEY is required"):
        compose.service_environment(_compose(), "identidock", {"POSTGRES_PASSWORD": "pw"})
    with pytest.raises(StackError, match="POSTGRES_PASSWORD is required"):
        compose.service_environment(_compose(), "postgres", {})


@pytest.mark.parametrize("service", ["identidock", "migrate"])
def test_the_salt_comes_from_the_operator_with_no_public_default(service):
    without_salt = {name: value for name, value in SECRETS.items() if name != "IDENTIDOCK_SALT"}
    with pytest.raises(StackError, match="IDENTIDOCK_SALT is required: set IDENTIDOCK_SALT"):
        compose.service_environment(_compose(), service, without_salt)
    assert _environment(service)["IDENTIDOCK_SALT"] == SECRETS["IDENTIDOCK_SALT"]
    assert "UNIQUE_SALT" not in BASE.read_text()


def test_production_runs_gunicorn_with_debug_off():
    environment = _environment("identidock")
    assert environment["ENV"] == "PROD"
    assert environment["DEBUG"] == "false"


def test_loopback_stays_allowed_for_the_container_healthcheck():
    hosts = _environment("identidock", ALLOWED_HOSTS="identidock.example.com")["ALLOWED_HOSTS"]
    assert hosts.split(",") == ["identidock.example.com", "127.0.0.1", "[::1]"]


def test_only_the_proxy_publishes_a_port_5000_by_default():
    published = {name for name, service in _compose()["services"].items() if "ports" in service}
    assert published == {"proxy"}
    ports = _service("proxy")["ports"]
    assert [compose.interpolate(port, {}) for port in ports] == ["5000:80"]
    assert [compose.interpolate(port, {"IDENTIDOCK_PORT": "8080"}) for port in ports] == ["8080:80"]


def test_web_app_is_reachable_inside_the_compose_networks_only():
    identidock = _service("identidock")
    assert "ports" not in identidock
    assert identidock["expose"] == ["5000"]
    assert set(identidock["networks"]) == {"default", "front"}


def test_web_app_waits_for_healthy_stores_a_started_renderer_and_finished_migrations():
    assert _service("identidock")["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
        "dnmonster": {"condition": "service_started"},
        "migrate": {"condition": "service_completed_successfully"},
    }


def test_web_app_finds_each_store_by_its_service_name():
    environment = _environment("identidock")
    postgres = _environment("postgres")
    database = urlsplit(environment["DATABASE_URL"])
    assert (database.scheme, database.hostname, database.port) == ("postgres", "postgres", 5432)
    assert database.username == postgres["POSTGRES_USER"]
    assert database.password == postgres["POSTGRES_PASSWORD"] == SECRETS["POSTGRES_PASSWORD"]
    assert database.path == "/" + postgres["POSTGRES_DB"]
    assert urlsplit(environment["REDIS_URL"])[:2] == ("redis", "redis:6379")
    assert environment["DNMONSTER_URL"] == "http://dnmonster:8080"


def test_migrations_run_once_in_a_one_off_service():
    migrate = _service("migrate")
    assert migrate["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert migrate["healthcheck"] == {"disable": True}
    assert "ports" not in migrate


def test_renderer_is_our_wsgi_app_under_gunicorn_on_8080():
    dnmonster = _service("dnmonster")
    command = dnmonster["command"]
    assert command[0] == "gunicorn"
    assert command[-1] == "renderer.wsgi:app"
    assert command[command.index("--bind") + 1] == "0.0.0.0:8080"
    assert command[command.index("--config") + 1] == "gunicorn.conf.py"
    assert "ports" not in dnmonster  # reachable by identidock only


@pytest.mark.parametrize(
    ("service", "probe"),
    [
        ("proxy", "http://127.0.0.1/healthz"),
        ("identidock", "http://127.0.0.1:5000/healthz"),
        ("dnmonster", "http://127.0.0.1:8080/healthz"),
        ("redis", "redis-cli ping"),
        ("postgres", "pg_isready"),
    ],
)
def test_each_long_running_service_has_a_healthcheck(service, probe):
    healthcheck = _service(service)["healthcheck"]
    assert probe in " ".join(healthcheck["test"])
    assert healthcheck["test"][0] in {"CMD", "CMD-SHELL"}
    assert {"interval", "timeout", "retries"} <= set(healthcheck)


def test_redis_is_a_bounded_lru_cache_without_persistence():
    command = _service("redis")["command"]
    assert command[0] == "redis-server"
    options = dict(zip(command[1::2], command[2::2], strict=True))
    assert re.fullmatch(r"[1-9]\d*(kb|mb|gb)", options["--maxmemory"])
    assert options["--maxmemory-policy"] == "allkeys-lru"
    assert options["--save"] == ""
    assert options["--appendonly"] == "no"


def test_postgres_keeps_its_data_in_a_named_volume():
    compose = _compose()
    assert _service("postgres")["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    assert "postgres-data" in compose["volumes"]


def test_images_are_pinned_to_versions():
    images = {name: service["image"] for name, service in _compose()["services"].items()}
    for image in images.values():
        name, _, tag = image.rpartition(":")
        assert name and re.fullmatch(r"\d+(\.\d+)*(-[a-z]+)?", tag), image
    assert images["redis"].startswith("redis:7")
    assert images["postgres"].startswith("postgres:16")
    assert re.fullmatch(r"nginx:1\.27\.\d+-alpine", images["proxy"])


def test_one_image_built_here_serves_the_web_app_the_renderer_and_the_migration():
    compose = _compose()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    ours = {compose["services"][name]["image"] for name in ("identidock", "dnmonster", "migrate")}
    assert ours == {f"identidock:{version}"}
    # Only identidock builds it, so an override can swap the renderer's image outright.
    assert [name for name, service in compose["services"].items() if "build" in service] == [
        "identidock"
    ]


def test_stop_grace_period_outlasts_gunicorn_graceful_timeout():
    graceful = int(
        re.search(r'"GUNICORN_GRACEFUL_TIMEOUT", (\d+)', (ROOT / "gunicorn.conf.py").read_text())[1]
    )
    for service in ("identidock", "dnmonster"):
        grace = _service(service)["stop_grace_period"]
        assert int(grace.removesuffix("s")) > graceful


# --- The proxy -----------------------------------------------------------------------

PROXY_TEMPLATES = ROOT / "docker" / "nginx" / "templates"
_NGINX_TOKEN = re.compile(r"""'[^']*'|"[^"]*"|[{};]|[^\s{};'"]+""")


@dataclass
class Directive:
    name: str
    args: list[str]
    block: list[Directive] = field(default_factory=list)


def _parse_nginx(text: str) -> list[Directive]:
    """nginx's configuration as directives and blocks (no string of ours holds a #)."""
    tokens = _NGINX_TOKEN.findall(re.sub(r"#[^\n]*", "", text))

    def block(position: int) -> tuple[list[Directive], int]:
        directives: list[Directive] = []
        words: list[str] = []
        while position < len(tokens):
            token, position = tokens[position], position + 1
            if token == ";":
                directives.append(Directive(words[0], words[1:]))
                words = []
            elif token == "{":
                children, position = block(position)
                directives.append(Directive(words[0], words[1:], children))
                words = []
            elif token == "}":
                return directives, position
            else:
                words.append(token.strip("'\""))
        return directives, position

    return block(0)[0]


def _one(directives: list[Directive], name: str) -> Directive:
    found = [directive for directive in directives if directive.name == name]
    assert len(found) == 1, f"{name}: {len(found)} times"
    return found[0]


def _seconds(value: str) -> float:
    time = re.fullmatch(r"(\d+)(ms|s|m)?", value)
    assert time, f"not an nginx time: {value}"
    return int(time[1]) * {"ms": 0.001, "s": 1, None: 1, "m": 60}[time[2]]


def _gunicorn_default(name: str) -> int:
    default = re.search(rf'"{name}", (\d+)', (ROOT / "gunicorn.conf.py").read_text())
    assert default, f"gunicorn.conf.py reads no {name}"
    return int(default[1])


@pytest.fixture
def site() -> dict[str, list[Directive]]:
    """The template as the nginx image renders it with the compose service's variables:
    the upstream block, the server block and its one location that proxies (the other
    answers nginx's own errors)."""
    rendered = proxy.render(proxy.TEMPLATE.read_text(), _environment("proxy"))
    directives = _parse_nginx(rendered)
    server = _one(directives, "server").block
    (proxied,) = [d for d in server if d.name == "location" and d.args == ["/"]]
    return {
        "upstream": _one(directives, "upstream").block,
        "server": server,
        "location": proxied.block,
    }


def test_proxy_gets_the_shipped_template_where_the_nginx_image_renders_it():
    assert _service("proxy")["volumes"] == ["./docker/nginx/templates:/etc/nginx/templates:ro"]
    assert sorted(path.name for path in PROXY_TEMPLATES.iterdir()) == ["default.conf.template"]
    assert proxy.TEMPLATE.parent == PROXY_TEMPLATES


def test_proxy_service_sets_every_variable_the_template_expects_and_no_other():
    template = proxy.TEMPLATE.read_text()
    environment = _environment("proxy")
    assert set(environment) == proxy.template_variables(template)
    assert environment["IDENTIDOCK_UPSTREAM"] == "identidock:5000"
    assert "${" not in proxy.render(template, environment)


def test_proxy_configuration_passes_nginx_t():
    # A prefix of its own for nginx's pid and temporary files: no root paths needed.
    prefix = Path(tempfile.mkdtemp(prefix="identidock-nginx-t-"))
    try:
        config = proxy.write_config(prefix, listen="127.0.0.1:5000", upstream="127.0.0.1:5001")
        result = _run(*proxy.command(config, test=True))
    finally:
        shutil.rmtree(prefix)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_proxy_in_front_of_replicas_lists_each_one_and_passes_nginx_t():
    prefix = Path(tempfile.mkdtemp(prefix="identidock-nginx-t-"))
    replicas = ["127.0.0.1:5001", "127.0.0.1:5002", "127.0.0.1:5003"]
    try:
        config = proxy.write_config(prefix, listen="127.0.0.1:5000", upstream=replicas)
        result = _run(*proxy.command(config, test=True))
        upstream = _one(_parse_nginx((prefix / "identidock.conf").read_text()), "upstream")
    finally:
        shutil.rmtree(prefix)
    assert result.returncode == 0, result.stderr
    servers = [directive.args for directive in upstream.block if directive.name == "server"]
    assert servers == [[replica, "max_fails=1", "fail_timeout=10s"] for replica in replicas]


def test_proxy_sends_a_get_that_a_replica_failed_to_the_next_one(site):
    location = {directive.name: directive.args for directive in site["location"]}
    assert location["proxy_next_upstream"] == ["error", "timeout", "http_502"]
    assert location["proxy_next_upstream_tries"] == ["3"]


def test_proxy_listens_where_compose_publishes(site):
    listen = _one(site["server"], "listen").args
    assert listen == ["80", "default_server"]
    assert _service("proxy")["ports"][0].endswith(":80")


def test_proxy_bounds_every_wait_on_a_client(site):
    server = {directive.name: directive.args for directive in site["server"]}
    assert _seconds(server["client_header_timeout"][0]) == 5
    assert _seconds(server["client_body_timeout"][0]) == 5
    assert _seconds(server["send_timeout"][0]) <= 10
    assert _seconds(server["keepalive_timeout"][0]) <= 15


def test_proxy_refuses_bodies_over_16k_and_keeps_the_rest_in_memory(site):
    server = {directive.name: directive.args for directive in site["server"]}
    assert server["client_max_body_size"] == ["16k"]
    assert server["client_body_buffer_size"] == ["16k"]


def test_proxy_keeps_connections_to_gunicorn_alive_and_lets_them_go_first(site):
    upstream = {directive.name: directive.args for directive in site["upstream"]}
    assert upstream["server"] == ["identidock:5000", "max_fails=1", "fail_timeout=10s"]
    assert int(upstream["keepalive"][0]) > 0
    assert _seconds(upstream["keepalive_timeout"][0]) < _gunicorn_default("GUNICORN_KEEPALIVE")
    location = site["location"]
    assert _one(location, "proxy_pass").args == ["http://identidock"]
    assert _one(location, "proxy_http_version").args == ["1.1"]
    headers = {d.args[0]: d.args[1] for d in location if d.name == "proxy_set_header"}
    assert headers["Connection"] == ""


def test_proxy_buffers_whole_requests_and_answers(site):
    location = {directive.name: directive.args for directive in site["location"]}
    assert location["proxy_buffering"] == ["on"]
    assert location["proxy_request_buffering"] == ["on"]


def test_proxy_waits_on_gunicorn_no_longer_than_gunicorn_lets_a_worker_be_silent(site):
    location = {directive.name: directive.args for directive in site["location"]}
    assert _seconds(location["proxy_connect_timeout"][0]) <= 5
    assert _seconds(location["proxy_send_timeout"][0]) <= 10
    assert _seconds(location["proxy_read_timeout"][0]) == _gunicorn_default("GUNICORN_TIMEOUT")


def test_proxy_passes_the_client_address_scheme_host_and_a_request_id(site):
    headers = {d.args[0]: d.args[1] for d in site["location"] if d.name == "proxy_set_header"}
    assert headers == {
        "Connection": "",
        "Host": "$http_host",
        "X-Real-IP": "$remote_addr",
        "X-Forwarded-For": "$remote_addr",
        "X-Forwarded-Proto": "$scheme",
        "X-Request-ID": "$request_id",
        # Cleared: a client's own claims never reach gunicorn.
        **dict.fromkeys(
            ["X-Forwarded-Ssl", "X-Forwarded-Protocol", "X-Forwarded-Scheme", "X-Forwarded-Host"]
            + ["X-Forwarded-Port", "X-Forwarded-Prefix", "Forwarded", "X-Url-Scheme"],
            "",
        ),
    }
    assert _one(site["location"], "add_header").args == ["X-Request-ID", "$request_id", "always"]


def test_gunicorn_believes_forwarded_headers_from_the_proxys_address_only():
    front = _compose()["networks"]["front"]["ipam"]["config"][0]
    proxy_address = ipaddress.ip_address(_service("proxy")["networks"]["front"]["ipv4_address"])
    assert proxy_address in ipaddress.ip_network(front["subnet"])
    # Docker hands out addresses from ip_range only, so no other container gets it.
    assert proxy_address not in ipaddress.ip_network(front["ip_range"])
    assert _environment("identidock")["FORWARDED_ALLOW_IPS"] == str(proxy_address)
    assert set(_service("proxy")["networks"]) == {"front"}


def test_proxy_starts_once_the_web_app_is_healthy():
    assert _service("proxy")["depends_on"] == {"identidock": {"condition": "service_healthy"}}


# --- The overrides -------------------------------------------------------------------


def test_dev_override_runs_the_reloading_server_on_mounted_code_with_debug():
    identidock = _service("identidock", DEV)
    assert set(_compose(DEV)["services"]) == {"identidock"}
    assert identidock["environment"]["ENV"] == "DEV"
    assert identidock["environment"]["DEBUG"] == "true"
    assert identidock["volumes"] == [".:/app"]


def test_dev_override_builds_the_image_with_the_test_tools_for_env_unit():
    args = _service("identidock", DEV)["build"]["args"]
    assert (ROOT / "requirements" / f"{args['REQUIREMENTS']}.txt").exists()
    assert args["REQUIREMENTS"] == "dev"


def test_web_app_is_told_the_revision_of_our_renderer_it_gets():
    assert _environment("identidock")["DNMONSTER_REVISION"] == f"identidock-r{RENDERER_VERSION}"


def test_dnmonster_override_tells_the_web_app_it_gets_the_original_art():
    environment = _service("identidock", ORIGINAL_RENDERER)["environment"]
    assert environment == {"DNMONSTER_REVISION": "amouat-1.0"}


def test_dnmonster_override_swaps_in_the_original_image_and_its_own_command():
    compose = _compose(ORIGINAL_RENDERER)
    assert set(compose["services"]) == {"identidock", "dnmonster"}
    dnmonster = compose["services"]["dnmonster"]
    assert dnmonster["image"] == "amouat/dnmonster:1.0"
    assert dnmonster["command"] == ["npm", "start"]
    assert "build" not in dnmonster


def test_dnmonster_override_checks_health_without_python_or_healthz():
    test = " ".join(_service("dnmonster", ORIGINAL_RENDERER)["healthcheck"]["test"])
    assert test.startswith("CMD node -e")
    assert "/monster/" in test and "8080" in test
    assert "=>" not in test  # Node 0.12 has no arrow functions
