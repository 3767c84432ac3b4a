"""docker-compose.yml's wiring, read without an engine: what each service gets and needs.

Every component of the design runs; the web app and its migration get every variable
the settings and gunicorn.conf.py read (and docs/configuration.md lists them), the
secrets and the salt only from the operator; only the proxy publishes a port; each
service waits for the stores it uses to be healthy and finds them by their service
names; every long-running service checks what it serves; the images are pinned, ours
built once each and tagged with the project's version; and each service's stop grace
period outlasts gunicorn's graceful timeout.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from scripts.stack import StackError, compose
from tests import compose_files, dockerfile, gunicorn_defaults
from tests.compose_files import BASE, SECRETS

ROOT = Path(__file__).resolve().parent.parent


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


def _built_stage(service: str, path: Path = BASE) -> dockerfile.Stage:
    """The Dockerfile stage a compose service builds its image from."""
    build = compose_files.service(service, path)["build"]
    assert (BASE.parent / build["context"]).resolve() == ROOT
    stages = dockerfile.stages(ROOT / build.get("dockerfile", "Dockerfile"))
    return stages[build.get("target", list(stages)[-1])]


def test_compose_runs_every_component_of_the_design():
    assert {"proxy", "identidock", "migrate", "dnmonster", "redis", "postgres"} <= set(
        compose_files.load()["services"]
    )


def test_every_variable_the_settings_read_is_given_to_the_web_app_and_the_migration():
    wanted = _variables_read_by(ROOT / "identidock" / "settings.py")
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DNMONSTER_URL"} <= wanted
    for service in ("identidock", "migrate"):
        missing = wanted - set(compose_files.service(service)["environment"])
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
    assert not wanted - set(compose_files.service("identidock")["environment"])


def test_secrets_come_from_the_operator_and_are_required():
    environment = compose_files.service("identidock")["environment"]
    assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?")
    with pytest.raises(StackError, match="SECRET_KEY is required"):
        compose.service_environment(compose_files.load(), "identidock", {"POSTGRES_PASSWORD": "pw"})
    with pytest.raises(StackError, match="POSTGRES_PASSWORD is required"):
        compose.service_environment(compose_files.load(), "postgres", {})


@pytest.mark.parametrize("service", ["identidock", "migrate"])
def test_the_salt_comes_from_the_operator_with_no_public_default(service):
    without_salt = {name: value for name, value in SECRETS.items() if name != "IDENTIDOCK_SALT"}
    with pytest.raises(StackError, match="IDENTIDOCK_SALT is required: set IDENTIDOCK_SALT"):
        compose.service_environment(compose_files.load(), service, without_salt)
    assert compose_files.environment(service)["IDENTIDOCK_SALT"] == SECRETS["IDENTIDOCK_SALT"]
    assert "UNIQUE_SALT" not in BASE.read_text()


def test_production_runs_gunicorn_with_debug_off():
    environment = compose_files.environment("identidock")
    assert environment["ENV"] == "PROD"
    assert environment["DEBUG"] == "false"


def test_loopback_stays_allowed_for_the_container_healthcheck():
    hosts = compose_files.environment("identidock", ALLOWED_HOSTS="identidock.example.com")[
        "ALLOWED_HOSTS"
    ]
    assert hosts.split(",") == ["identidock.example.com", "127.0.0.1", "[::1]"]


def test_only_the_proxy_publishes_a_port_5000_by_default():
    published = {
        name for name, service in compose_files.load()["services"].items() if "ports" in service
    }
    assert published == {"proxy"}
    ports = compose_files.service("proxy")["ports"]
    assert [compose.interpolate(port, {}) for port in ports] == ["5000:80"]
    assert [compose.interpolate(port, {"IDENTIDOCK_PORT": "8080"}) for port in ports] == ["8080:80"]


def test_web_app_is_reachable_inside_the_compose_networks_only():
    identidock = compose_files.service("identidock")
    assert "ports" not in identidock
    assert identidock["expose"] == ["5000"]
    assert set(identidock["networks"]) == {"default", "front"}


def test_every_service_that_uses_the_database_waits_for_postgres_to_be_healthy():
    users = [
        name
        for name, service in compose_files.load()["services"].items()
        if "DATABASE_URL" in service.get("environment", {})
        and urlsplit(compose_files.environment(name)["DATABASE_URL"]).hostname == "postgres"
    ]
    assert {"identidock", "migrate"} <= set(users)
    for name in users:
        assert compose_files.service(name)["depends_on"]["postgres"] == {
            "condition": "service_healthy"
        }


def test_web_app_waits_for_a_healthy_cache_finished_migrations_and_a_started_renderer():
    depends_on = compose_files.service("identidock")["depends_on"]
    assert depends_on["redis"] == {"condition": "service_healthy"}
    assert depends_on["migrate"] == {"condition": "service_completed_successfully"}
    # Started, not healthy: without its renderer the web app still answers (503 for a
    # new monster), so a renderer that fails its healthcheck must not keep it down.
    assert depends_on["dnmonster"] == {"condition": "service_started"}


def test_web_app_finds_each_store_by_its_service_name():
    environment = compose_files.environment("identidock")
    postgres = compose_files.environment("postgres")
    database = urlsplit(environment["DATABASE_URL"])
    assert (database.scheme, database.hostname, database.port) == ("postgres", "postgres", 5432)
    assert database.username == postgres["POSTGRES_USER"]
    assert database.password == postgres["POSTGRES_PASSWORD"] == SECRETS["POSTGRES_PASSWORD"]
    assert database.path == "/" + postgres["POSTGRES_DB"]
    assert urlsplit(environment["REDIS_URL"])[:2] == ("redis", "redis:6379")
    assert environment["DNMONSTER_URL"] == "http://dnmonster:8080"


def test_migrations_run_once_in_a_one_off_service():
    migrate = compose_files.service("migrate")
    assert migrate["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert migrate["restart"] == "no"
    assert migrate["healthcheck"] == {"disable": True}
    assert "ports" not in migrate


def test_dnmonster_is_built_from_the_renderer_target_and_runs_its_command():
    dnmonster = compose_files.service("dnmonster")
    renderer = _built_stage("dnmonster")
    assert renderer == dockerfile.stages()["renderer"]
    # The image's own CMD, which `make stack` runs from here as this service's command.
    assert dnmonster["command"] == renderer.exec_form("CMD")
    bind = dockerfile.gunicorn_option(dnmonster["command"], "--bind")
    assert bind and bind.rpartition(":")[2] in dnmonster["expose"]
    assert "ports" not in dnmonster  # reachable by identidock only


def test_the_web_app_finds_the_renderer_where_it_listens():
    renderer = urlsplit(compose_files.environment("identidock")["DNMONSTER_URL"])
    assert renderer.hostname == "dnmonster"
    assert str(renderer.port) in compose_files.service("dnmonster")["expose"]


def _healthcheck(service: str) -> tuple[str, str]:
    """What checks a service's health and how often: compose's healthcheck, else the
    HEALTHCHECK of the image the service builds. (command, options)"""
    spec = compose_files.service(service)
    if "healthcheck" in spec:
        healthcheck = spec["healthcheck"]
        assert healthcheck["test"][0] in {"CMD", "CMD-SHELL"}
        options = " ".join(f"--{name}" for name in healthcheck if name != "test")
        return " ".join(healthcheck["test"]), options
    stage = _built_stage(service)
    options = stage.instructions("HEALTHCHECK")[-1].split(" CMD ", 1)[0]
    return " ".join(stage.exec_form("HEALTHCHECK")), options


def test_every_long_running_service_has_a_healthcheck():
    for name, service in compose_files.load()["services"].items():
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
    command = compose_files.service("redis")["command"]
    assert command[0] == "redis-server"
    options = dict(zip(command[1::2], command[2::2], strict=True))
    assert re.fullmatch(r"[1-9]\d*(kb|mb|gb)", options["--maxmemory"])
    assert options["--maxmemory-policy"] == "allkeys-lru"
    assert options["--save"] == ""
    assert options["--appendonly"] == "no"


def test_postgres_keeps_its_data_in_a_named_volume():
    compose = compose_files.load()
    assert compose_files.service("postgres")["volumes"] == [
        "postgres-data:/var/lib/postgresql/data"
    ]
    assert "postgres-data" in compose["volumes"]


def test_images_are_pinned_to_versions():
    images = {name: service["image"] for name, service in compose_files.load()["services"].items()}
    for image in images.values():
        name, _, tag = image.rpartition(":")
        assert name and re.fullmatch(r"\d+(\.\d+)*(-[a-z]+)?", tag), image
    assert images["redis"].startswith("redis:7")
    assert images["postgres"].startswith("postgres:16")
    assert re.fullmatch(r"nginx:1\.27\.\d+-alpine", images["proxy"])


def test_each_image_built_here_is_built_by_one_service_and_tagged_with_the_version():
    services = compose_files.load()["services"]
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
    services = compose_files.load()["services"]
    assert _built_stage("identidock").name == "web"
    assert services["migrate"]["image"] == services["identidock"]["image"]
    assert services["dnmonster"]["image"] != services["identidock"]["image"]


def test_stop_grace_period_outlasts_gunicorn_graceful_timeout():
    graceful = {
        "identidock": gunicorn_defaults.default("GUNICORN_GRACEFUL_TIMEOUT"),
        "dnmonster": int(
            dockerfile.gunicorn_option(
                compose_files.service("dnmonster")["command"], "--graceful-timeout"
            )
            or 30  # gunicorn's own default
        ),
    }
    for service, seconds in graceful.items():
        grace = compose_files.service(service)["stop_grace_period"]
        assert int(grace.removesuffix("s")) > seconds, service
