"""The container files, checked without a Docker engine: linters, schemas and the wiring.

hadolint lints the Dockerfile, shellcheck the start script, check-jsonschema validates
every compose file against the Compose Specification, Debian's `nginx -t` the proxy's
configuration; the rest parses the files and checks that the two images (the web app's
and the renderer's, two targets of one Dockerfile) and the services are built and wired
as the settings, gunicorn.conf.py, the renderer and the proxy's template expect.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from django.conf import settings

from renderer import RENDERER_VERSION
from renderer.wsgi import app as renderer_app
from scripts.stack import StackError, compose, proxy
from tests import dockerfile
from tests.wsgi_calls import call

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DOCKERFILE = dockerfile.DOCKERFILE
START_SCRIPT = ROOT / "docker" / "cmd.sh"
COMPOSE_FILES = sorted(ROOT.glob("docker-compose*.yml"))
BASE = ROOT / "docker-compose.yml"
DEV = ROOT / "docker-compose.dev.yml"
ORIGINAL_RENDERER = ROOT / "docker-compose.dnmonster.yml"
REQUIREMENTS = ROOT / "requirements"
# What the compose file needs from the operator; the stack test supplies the same.
SECRETS = {"SECRET_KEY": "k" * 50, "POSTGRES_PASSWORD": "pw", "IDENTIDOCK_SALT": "s" * 32}
# What the renderer's image may copy from the build context, and nothing else.
RENDERER_IMAGE_FILES = {"renderer/", "requirements/renderer.txt"}
STORES = {"postgres", "redis"}


def _tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is missing: install requirements/dev.txt (make test does)"
    return str(path)


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


class _Reset:
    """Compose's `!reset` merge tag: the attribute is removed from what earlier files set."""

    def __repr__(self) -> str:
        return "!reset"


RESET = _Reset()


class _ComposeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, plus the merge tag compose knows."""


_ComposeLoader.add_constructor("!reset", lambda loader, node: RESET)


def _compose(path: Path = BASE) -> dict:
    return yaml.load(path.read_text(), Loader=_ComposeLoader)  # noqa: S506 (a SafeLoader)


def _without_resets(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_resets(item) for key, item in value.items() if item is not RESET}
    if isinstance(value, list):
        return [_without_resets(item) for item in value]
    return value


# Attributes whose value a later file replaces rather than extends (Compose's merge
# rules, "Exceptions: Shell commands").
_REPLACED = {"command", "entrypoint", "test"}


def _merge(base: Any, override: Any) -> Any:
    """Compose's documented merge of two files, for what these files use: mappings merge,
    sequences append (commands and healthcheck tests are replaced), `!reset` removes."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            if value is RESET:
                merged.pop(key, None)
            elif key in merged and key not in _REPLACED:
                merged[key] = _merge(merged[key], value)
            else:
                merged[key] = value
        return merged
    if isinstance(base, list) and isinstance(override, list):
        return base + override
    return override


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


def _stage(name: str) -> dockerfile.Stage:
    return dockerfile.stages()[name]


def _built_stage(service: str, path: Path = BASE) -> dockerfile.Stage:
    """The Dockerfile stage a compose service builds its image from."""
    build = _service(service, path)["build"]
    assert (BASE.parent / build["context"]).resolve() == ROOT
    stages = dockerfile.stages(ROOT / build.get("dockerfile", "Dockerfile"))
    return stages[build.get("target", list(stages)[-1])]


def _pins(name: str) -> dict[str, str]:
    """A requirements file's pins, `-r` includes aside: lower-cased name -> version."""
    pins = {}
    for line in (REQUIREMENTS / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-r"):
            continue
        requirement, version = line.split("==")
        pins[requirement.strip().lower()] = version.strip()
    return pins


def _copied_sources(stage: dockerfile.Stage) -> list[str]:
    """What the stage's COPY instructions take from the build context (flags left out)."""
    sources = []
    for copy in stage.instructions("COPY"):
        words = [word for word in copy.split() if not word.startswith("--")]
        sources += words[:-1]
    return sources


def _url(command: list[str]) -> str:
    (url,) = re.findall(r"https?://[^'\"\s]+", " ".join(command))
    return url


def _renderer_status(url: str) -> tuple[int, dict[str, str]]:
    """The status and headers renderer.wsgi:app answers a GET of `url` with, in-process."""
    parts = urlsplit(url)
    status, headers, _ = call(renderer_app, parts.path, parts.query)
    return int(status.split()[0]), dict(headers)


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


def test_the_base_file_and_both_overrides_are_among_the_checked_compose_files():
    assert {BASE, DEV, ORIGINAL_RENDERER} <= set(COMPOSE_FILES)


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda path: path.name)
def test_compose_file_follows_the_compose_specification(path, tmp_path):
    # check-jsonschema knows no YAML tags: it gets the file as compose reads it, each
    # `!reset` attribute gone, as JSON.
    as_read = tmp_path / f"{path.stem}.json"
    as_read.write_text(json.dumps(_without_resets(_compose(path))))
    result = _run(
        _tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(as_read)
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda path: path.name)
def test_compose_file_has_no_version_and_no_links(path):
    compose = _compose(path)
    assert "version" not in compose
    assert all("links" not in service for service in compose["services"].values())


# --- The Dockerfile: both images -----------------------------------------------------


def test_every_stage_is_on_the_python_the_suite_runs_on():
    python = f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"
    bases = {stage.base for stage in dockerfile.stages().values()}
    assert len(bases) == 1
    assert bases.pop().startswith(python)


def test_the_web_image_is_what_docker_build_builds_without_a_target():
    assert dockerfile.default_target() == "web"
    assert {"builder", "web", "renderer"} <= set(dockerfile.stages())


def test_only_the_builder_stage_installs_a_compiler():
    stages = dockerfile.stages()
    assert any("build-essential" in run for run in stages["builder"].instructions("RUN"))
    for name, stage in stages.items():
        if name != "builder":
            assert not any(re.search(r"apt-get|gcc|build-essential", line) for line in stage.lines)


@pytest.mark.parametrize("image", ["web", "renderer"])
def test_each_image_runs_unbuffered_as_a_numeric_non_root_user(image):
    stage = _stage(image)
    assert stage.environment()["PYTHONUNBUFFERED"] == "1"
    user = stage.instructions("USER")[-1]
    assert re.fullmatch(r"[1-9][0-9]*:[1-9][0-9]*", user)


def test_dockerignore_keeps_local_state_out_of_the_build_context():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", "var/", ".env"):
        assert entry in ignored


# --- The web image -------------------------------------------------------------------


def test_web_image_installs_wheels_from_the_builder_without_keeping_them():
    web = _stage("web")
    install = next(run for run in web.instructions("RUN") if "pip install" in run)
    assert "--mount=type=bind,from=builder" in install
    assert "--no-index" in install
    assert not any("/wheels" in copy for copy in web.instructions("COPY"))


def test_collectstatic_runs_at_build_time_with_a_throwaway_key_that_does_not_persist():
    text = DOCKERFILE.read_text()
    collect = next(run for run in _stage("web").instructions("RUN") if "collectstatic" in run)
    assert collect.startswith("SECRET_KEY=")
    assert not re.search(r"^\s*(ENV|ARG)\b.*SECRET_KEY", text, re.MULTILINE)


def test_web_image_checks_healthz_on_the_port_it_exposes():
    web = _stage("web")
    url = urlsplit(_url(web.exec_form("HEALTHCHECK")))
    assert web.instructions("EXPOSE") == [str(url.port)] == _service("identidock")["expose"]
    assert (url.hostname, url.path) == ("127.0.0.1", "/healthz")


def test_web_image_starts_gunicorn_on_identidock_wsgi_through_the_start_script(stub_path):
    web = _stage("web")
    (program, *arguments) = web.exec_form("CMD")
    # The whole context is copied to the WORKDIR, so the program is the repository's script.
    assert ". ." in web.instructions("COPY")
    workdir = PurePosixPath(web.instructions("WORKDIR")[-1])
    assert ROOT / PurePosixPath(program).relative_to(workdir) == START_SCRIPT
    assert not arguments
    pid, started = _start(stub_path)
    _assert_execs_the_web_app(pid, started)


# --- The renderer image --------------------------------------------------------------


def test_renderer_image_copies_nothing_but_renderer_and_its_requirements():
    renderer = _stage("renderer")
    assert set(_copied_sources(renderer)) <= RENDERER_IMAGE_FILES
    assert "renderer/" in _copied_sources(renderer)
    # Nothing from another stage or the context by any other way in.
    assert not renderer.instructions("ADD")
    assert not any("--from" in copy for copy in renderer.instructions("COPY"))
    assert not any("--mount" in run for run in renderer.instructions("RUN"))


def test_renderer_image_installs_requirements_renderer_txt_from_wheels_only():
    installs = [run for run in _stage("renderer").instructions("RUN") if "pip install" in run]
    assert installs
    for install in installs:
        assert set(re.findall(r"requirements/[\w.-]+\.txt", install)) == {
            "requirements/renderer.txt"
        }
        assert "--only-binary=:all:" in install  # a missing wheel fails; nothing compiles


def test_renderer_requirements_pin_pillow_and_gunicorn_as_the_web_app_does():
    renderer, base = _pins("renderer.txt"), _pins("base.txt")
    assert {"pillow", "gunicorn"} <= set(renderer)
    assert {name: base.get(name) for name in renderer} == renderer


def test_renderer_image_serves_renderer_wsgi_with_gunicorn_on_the_port_it_exposes():
    renderer = _stage("renderer")
    command = renderer.exec_form("CMD")
    assert command[0] == "gunicorn"
    assert command[-1] == "renderer.wsgi:app"
    port = renderer.instructions("EXPOSE")
    assert dockerfile.gunicorn_option(command, "--bind") == f"0.0.0.0:{port[0]}"
    # gunicorn.conf.py is the web app's (its hooks import prometheus-client): not here.
    assert dockerfile.gunicorn_option(command, "--config") is None
    assert dockerfile.gunicorn_option(command, "-c") is None


def test_renderer_image_keeps_connections_alive_with_threaded_workers():
    command = _stage("renderer").exec_form("CMD")
    assert dockerfile.gunicorn_option(command, "--worker-class") == "gthread"
    assert int(dockerfile.gunicorn_option(command, "--threads") or 1) > 1
    assert int(dockerfile.gunicorn_option(command, "--keep-alive") or 0) > 0
    assert int(_stage("renderer").environment()["WEB_CONCURRENCY"]) >= 1


def test_renderer_image_healthcheck_asks_the_renderer_for_a_monster_on_its_port():
    renderer = _stage("renderer")
    url = _url(renderer.exec_form("HEALTHCHECK"))
    assert urlsplit(url).port == int(renderer.instructions("EXPOSE")[0])
    assert urlsplit(url).path.startswith("/monster/")
    status, headers = _renderer_status(url)
    assert status == HTTPStatus.OK
    assert headers["Content-Type"] == "image/png"


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


def _assert_execs_the_web_app(pid: int, started: str) -> None:
    """`started` is gunicorn serving identidock.wsgi with gunicorn.conf.py, in the process
    the script started as (exec: the server is the process docker signals)."""
    ran_as, program, *arguments = started.split()
    assert int(ran_as) == pid
    assert program == "gunicorn"
    assert arguments[-1] == "identidock.wsgi"
    assert dockerfile.gunicorn_option(arguments, "--config") == "gunicorn.conf.py"


def test_start_script_is_strict_bash():
    text = START_SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -o errexit -o nounset -o pipefail" in text


@pytest.mark.parametrize("env", [None, "PROD", "STAGING"])
def test_start_script_execs_gunicorn_with_its_config_by_default(stub_path, env):
    _assert_execs_the_web_app(*_start(stub_path, **({"ENV": env} if env else {})))


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


def test_compose_runs_every_component_of_the_design():
    assert {"proxy", "identidock", "migrate", "dnmonster", "redis", "postgres"} <= set(
        _compose()["services"]
    )


def test_every_variable_the_settings_read_is_given_to_the_web_app_and_the_migration():
    wanted = _variables_read_by(ROOT / "identidock" / "settings.py")
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DNMONSTER_URL"} <= wanted
    for service in ("identidock", "migrate"):
        missing = wanted - set(_service(service)["environment"])
        assert not missing, f"{service} lacks {sorted(missing)}"


def test_configuration_docs_list_every_variable_the_settings_read():
    listed = set(
        re.findall(
            r"^\| `([A-Z][A-Z0-9_]*)` \|",
            (ROOT / "docs" / "configuration.md").read_text(),
            re.MULTILINE,
        )
    )
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


def test_every_service_that_uses_the_database_waits_for_postgres_to_be_healthy():
    users = [
        name
        for name, service in _compose()["services"].items()
        if "DATABASE_URL" in service.get("environment", {})
        and urlsplit(_environment(name)["DATABASE_URL"]).hostname == "postgres"
    ]
    assert {"identidock", "migrate"} <= set(users)
    for name in users:
        assert _service(name)["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_web_app_waits_for_a_healthy_cache_finished_migrations_and_a_started_renderer():
    depends_on = _service("identidock")["depends_on"]
    assert depends_on["redis"] == {"condition": "service_healthy"}
    assert depends_on["migrate"] == {"condition": "service_completed_successfully"}
    # Started, not healthy: without its renderer the web app still answers (503 for a
    # new monster), so a renderer that fails its healthcheck must not keep it down.
    assert depends_on["dnmonster"] == {"condition": "service_started"}


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
    assert migrate["healthcheck"] == {"disable": True}
    assert "ports" not in migrate


def test_dnmonster_is_built_from_the_renderer_target_and_runs_its_command():
    dnmonster = _service("dnmonster")
    renderer = _built_stage("dnmonster")
    assert renderer == _stage("renderer")
    # The image's own CMD, which `make stack` runs from here as this service's command.
    assert dnmonster["command"] == renderer.exec_form("CMD")
    bind = dockerfile.gunicorn_option(dnmonster["command"], "--bind")
    assert bind and bind.rpartition(":")[2] in dnmonster["expose"]
    assert "ports" not in dnmonster  # reachable by identidock only


def test_the_web_app_finds_the_renderer_where_it_listens():
    renderer = urlsplit(_environment("identidock")["DNMONSTER_URL"])
    assert renderer.hostname == "dnmonster"
    assert str(renderer.port) in _service("dnmonster")["expose"]


def _healthcheck(service: str) -> tuple[str, str]:
    """What checks a service's health and how often: compose's healthcheck, else the
    HEALTHCHECK of the image the service builds. (command, options)"""
    spec = _service(service)
    if "healthcheck" in spec:
        healthcheck = spec["healthcheck"]
        assert healthcheck["test"][0] in {"CMD", "CMD-SHELL"}
        options = " ".join(f"--{name}" for name in healthcheck if name != "test")
        return " ".join(healthcheck["test"]), options
    stage = _built_stage(service)
    options = stage.instructions("HEALTHCHECK")[-1].split(" CMD ", 1)[0]
    return " ".join(stage.exec_form("HEALTHCHECK")), options


def test_every_long_running_service_has_a_healthcheck():
    for name, service in _compose()["services"].items():
        if service.get("restart") == "no":
            continue  # a one-off
        assert service.get("healthcheck", {}).get("disable") is not True, name
        command, options = _healthcheck(name)
        assert command, name
        for option in ("interval", "timeout", "retries"):
            assert f"--{option}" in options, f"{name}: no {option}"


@pytest.mark.parametrize(
    ("service", "probe"),
    [
        ("proxy", "http://127.0.0.1/healthz"),
        ("identidock", "http://127.0.0.1:5000/healthz"),
        ("dnmonster", "http://127.0.0.1:8080/monster/"),
        ("redis", "redis-cli ping"),
        ("postgres", "pg_isready"),
    ],
)
def test_each_long_running_service_checks_what_it_serves(service, probe):
    assert probe in _healthcheck(service)[0]


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


def test_each_image_built_here_is_built_by_one_service_and_tagged_with_the_version():
    services = _compose()["services"]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    builders = {name: service for name, service in services.items() if "build" in service}
    targets = [_built_stage(name).name for name in builders]
    assert sorted(targets) == sorted(set(targets)), "two services build the same image"
    tags = {service["image"] for service in builders.values()}
    assert len(tags) == len(builders)
    assert all(tag.endswith(f":{version}") for tag in tags)
    # Every service that runs one of our images without building it runs the web image.
    for name, service in services.items():
        if name not in builders and service["image"] in tags:
            assert service["image"] == services["identidock"]["image"], name


def test_the_web_app_and_its_migration_run_the_web_image_and_the_renderer_its_own():
    services = _compose()["services"]
    assert _built_stage("identidock").name == "web"
    assert services["migrate"]["image"] == services["identidock"]["image"]
    assert services["dnmonster"]["image"] != services["identidock"]["image"]


def test_stop_grace_period_outlasts_gunicorn_graceful_timeout():
    graceful = {
        "identidock": _gunicorn_default("GUNICORN_GRACEFUL_TIMEOUT"),
        "dnmonster": int(
            dockerfile.gunicorn_option(_service("dnmonster")["command"], "--graceful-timeout")
            or 30  # gunicorn's own default
        ),
    }
    for service, seconds in graceful.items():
        grace = _service(service)["stop_grace_period"]
        assert int(grace.removesuffix("s")) > seconds, service


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
    the upstream block, the public server block (the other one is nginx's status, on
    the loopback), what holds in its `location /` (the server's proxy settings, then the
    location's own) and in its image location, which keeps answers."""
    rendered = proxy.render(proxy.TEMPLATE.read_text(), _environment("proxy"))
    directives = _parse_nginx(rendered)
    (public,) = [
        d
        for d in directives
        if d.name == "server" and "default_server" in _one(d.block, "listen").args
    ]
    server = public.block
    shared = [d for d in server if d.name.startswith("proxy_")]
    (proxied,) = [d for d in server if d.name == "location" and d.args == ["/"]]
    (images,) = [d for d in server if d.name == "location" and d.args[0] == "~"]
    return {
        "http": directives,
        "upstream": _one(directives, "upstream").block,
        "server": server,
        "location": shared + proxied.block,
        "images": shared + images.block,
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


def _bytes(value: str) -> int:
    size = re.fullmatch(r"(\d+)([kKmM])?", value)
    assert size, f"not an nginx size: {value}"
    return int(size[1]) * {None: 1, "k": 1024, "K": 1024, "m": 1 << 20, "M": 1 << 20}[size[2]]


def test_proxy_accepts_every_body_the_app_accepts_and_keeps_it_in_memory(site):
    server = {directive.name: directive.args for directive in site["server"]}
    limit = _bytes(server["client_max_body_size"][0])
    # No smaller than the app's own limit (REQUEST_BODY_MAX_BYTES's default), or a
    # request the app would take gets the proxy's 413; bounded, so a bigger body is
    # refused before it reaches gunicorn.
    assert 0 < settings.DATA_UPLOAD_MAX_MEMORY_SIZE <= limit
    # Whatever the proxy accepts fits its buffer: never spooled to a temporary file.
    assert _bytes(server["client_body_buffer_size"][0]) >= limit


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


def test_proxy_keeps_images_only_as_the_app_says_and_nothing_else(site):
    images = {directive.name: directive.args for directive in site["images"]}
    assert images["proxy_cache"] == ["identidock_images"]
    # The app's Cache-Control decides how long; no fallback that would keep an answer
    # the app did not mark (tests/test_proxy_cache_rules.py shows what is kept).
    assert "proxy_cache_valid" not in images
    assert "$request_uri" in images["proxy_cache_key"][0]  # v, size and the rest
    assert images["proxy_cache_lock"] == ["on"]
    assert images["proxy_cache_revalidate"] == ["on"]
    assert "proxy_ignore_headers" not in images  # Set-Cookie, private, no-store: obeyed
    # Every other answer, /admin/ and the pages, is never looked up nor kept.
    assert not any(d.name.startswith("proxy_cache") for d in site["location"])
    (images_location,) = [d for d in site["server"] if d.name == "location" and d.args[0] == "~"]
    assert images_location.args == ["~", "^/(monster|avatar)/"]


def test_proxy_cache_lives_in_a_tmpfs_sized_above_its_limit():
    environment = _environment("proxy")
    cache_path = environment["PROXY_CACHE_PATH"]
    (tmpfs,) = _service("proxy")["tmpfs"]
    target, _, options = compose.interpolate(tmpfs, {}).partition(":")
    assert target == cache_path
    size = dict(option.partition("=")[::2] for option in options.split(","))["size"]
    assert _bytes(size) > _bytes(environment["PROXY_CACHE_SIZE"])
    assert "proxy_cache_path" in proxy.render(proxy.TEMPLATE.read_text(), environment)


def test_proxy_status_is_on_the_containers_loopback_only(site):
    servers = [d.block for d in site["http"] if d.name == "server"]
    (status,) = [s for s in servers if "default_server" not in _one(s, "listen").args]
    assert _one(status, "listen").args[0].startswith("127.0.0.1:")
    locations = {tuple(d.args): d.block for d in status if d.name == "location"}
    assert _one(locations[("=", "/nginx_status")], "stub_status").args == []


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


def test_dev_override_builds_the_web_image_with_the_test_tools_for_env_unit():
    args = _service("identidock", DEV)["build"]["args"]
    assert (REQUIREMENTS / f"{args['REQUIREMENTS']}.txt").exists()
    assert args["REQUIREMENTS"] == "dev"
    merged = _merge(_compose(), _compose(DEV))["services"]
    assert merged["identidock"]["build"]["target"] == "web"


def test_web_app_is_told_the_revision_of_our_renderer_it_gets():
    assert _environment("identidock")["DNMONSTER_REVISION"] == f"identidock-r{RENDERER_VERSION}"


def test_dnmonster_override_tells_the_web_app_it_gets_the_original_art():
    environment = _service("identidock", ORIGINAL_RENDERER)["environment"]
    assert environment == {"DNMONSTER_REVISION": "amouat-1.0"}


def _with_the_original_renderer() -> dict[str, Any]:
    return _merge(_compose(), _compose(ORIGINAL_RENDERER))["services"]


def test_dnmonster_override_changes_only_the_renderer_and_what_the_web_app_is_told():
    assert set(_compose(ORIGINAL_RENDERER)["services"]) == {"identidock", "dnmonster"}
    merged = _with_the_original_renderer()
    assert merged["identidock"]["environment"]["DNMONSTER_URL"] == "http://dnmonster:8080"
    assert merged["dnmonster"]["expose"] == _service("dnmonster")["expose"]


def test_dnmonster_override_pulls_the_original_image_instead_of_building_ours():
    dnmonster = _with_the_original_renderer()["dnmonster"]
    assert dnmonster["image"] == "amouat/dnmonster:1.0"
    # With our build left in, `up --build` (or a failed pull) would build our renderer
    # and tag it amouat/dnmonster:1.0.
    assert "build" not in dnmonster
    assert dnmonster["command"] == ["npm", "start"]
    builders = [name for name, s in _with_the_original_renderer().items() if "build" in s]
    assert builders == ["identidock"]


def test_dnmonster_override_checks_health_without_python():
    healthcheck = _with_the_original_renderer()["dnmonster"]["healthcheck"]
    test = " ".join(healthcheck["test"])
    assert test.startswith("CMD node -e")
    assert "/monster/" in test and "8080" in test
    assert "=>" not in test  # Node 0.12 has no arrow functions
    assert {"interval", "timeout", "retries"} <= set(healthcheck)
