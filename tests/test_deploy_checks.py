"""`manage.py check --deploy` refuses what quietly weakens a production Identidock: the
original app's public salt (identidock.E001), SQLite for the audit log (E002) and a
monster cache that is not Redis (E003). Plain `check`, `runserver` and `make run` never
run these checks, so the embedded defaults still start anywhere."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.checks import WARNING, run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

ROOT = Path(__file__).resolve().parent.parent
OURS = "identidock."
ORIGINAL_SALT = "UNIQUE_SALT"  # the Flask app's, in its public source
LOCAL_MEMORY = "django.core.cache.backends.locmem.LocMemCache"
SQLITE = "django.db.backends.sqlite3"


def _reported(*, deploy: bool = True) -> list[str]:
    """Our check ids among everything Django's checks report, silenced ones included."""
    ids = [message.id or "" for message in run_checks(include_deployment_checks=deploy)]
    return [check_id for check_id in ids if check_id.startswith(OURS)]


def _monster_cache(backend: str) -> dict:
    return {**settings.CACHES, "monsters": {"BACKEND": backend, "LOCATION": "deploy-checks"}}


def _audit_database(engine: str) -> dict:
    default = {**settings.DATABASES["default"], "ENGINE": engine}
    return {**settings.DATABASES, "default": default}


def _weakest() -> override_settings:
    """Every condition the checks refuse, at once."""
    return override_settings(
        IDENTIDOCK_SALT=ORIGINAL_SALT,
        DATABASES=_audit_database(SQLITE),
        CACHES=_monster_cache(LOCAL_MEMORY),
    )


@pytest.fixture(autouse=True)
def _a_site_that_names_its_address(settings):
    """Every test here but W004's own: a site with PUBLIC_BASE_URL, so the lists of ids
    name the check under test alone."""
    settings.PUBLIC_BASE_URL = "https://identidock.example.com"


# Django warns that changing DATABASES in a running process misleads the connections;
# the checks only read the setting.
ignore_databases_override = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")


# --- identidock.E001: the salt ----------------------------------------------------------


@override_settings(IDENTIDOCK_SALT=ORIGINAL_SALT)
def test_the_original_apps_salt_is_an_error_in_a_deployment():
    assert _reported() == ["identidock.E001"]


@override_settings(IDENTIDOCK_SALT=secrets.token_urlsafe(32))
def test_a_salt_of_the_sites_own_passes():
    assert _reported() == []


@override_settings(IDENTIDOCK_SALT=f"{ORIGINAL_SALT} ")
def test_any_other_salt_passes_even_one_close_to_the_original():
    # Any character changes every hash: that salt is not the public one.
    assert _reported() == []


@override_settings(IDENTIDOCK_SALT=ORIGINAL_SALT)
def test_check_deploy_fails_on_the_original_salt_and_says_how_to_keep_it():
    with pytest.raises(SystemCheckError) as failure:
        call_command("check", "--deploy", stdout=StringIO(), stderr=StringIO())
    report = str(failure.value)
    assert "(identidock.E001) IDENTIDOCK_SALT is the original app's public salt" in report
    assert "SILENCED_SYSTEM_CHECKS=identidock.E001" in report


@override_settings(IDENTIDOCK_SALT=ORIGINAL_SALT, SILENCED_SYSTEM_CHECKS=["identidock.E001"])
def test_an_operator_keeps_the_original_salt_by_silencing_e001(monkeypatch):
    # The browser tests' setting, which Django's own check --deploy refuses (async.E001).
    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)
    stdout, stderr = StringIO(), StringIO()
    call_command("check", "--deploy", "--fail-level", "ERROR", stdout=stdout, stderr=stderr)
    report = stdout.getvalue() + stderr.getvalue()  # Django's warnings go to stderr
    assert "identidock.E001" not in report
    assert "(1 silenced)" in report


# --- identidock.E002: the audit log's database ----------------------------------------


@ignore_databases_override
def test_sqlite_for_the_audit_log_is_an_error_in_a_deployment():
    with override_settings(IDENTIDOCK_SALT="secret", DATABASES=_audit_database(SQLITE)):
        assert _reported() == ["identidock.E002"]


@override_settings(IDENTIDOCK_SALT="secret")
def test_postgresql_for_the_audit_log_passes():
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert _reported() == []


# --- identidock.E003: the monster cache ---------------------------------------------------


@pytest.mark.parametrize("backend", [LOCAL_MEMORY, "django.core.cache.backends.dummy.DummyCache"])
def test_a_monster_cache_that_is_not_redis_is_an_error_in_a_deployment(backend):
    with override_settings(IDENTIDOCK_SALT="secret", CACHES=_monster_cache(backend)):
        assert _reported() == ["identidock.E003"]


@override_settings(IDENTIDOCK_SALT="secret")
def test_redis_for_the_monster_cache_passes():
    assert settings.CACHES["monsters"]["BACKEND"] == "django_redis.cache.RedisCache"
    assert _reported() == []


# --- Only with --deploy ---------------------------------------------------------------


@ignore_databases_override
def test_every_condition_at_once_gives_each_error_once():
    with _weakest():
        assert sorted(_reported()) == ["identidock.E001", "identidock.E002", "identidock.E003"]


@ignore_databases_override
def test_plain_checks_never_run_them_so_make_run_starts_on_the_embedded_defaults():
    with _weakest():
        assert _reported(deploy=False) == []
        call_command("check", stdout=StringIO(), stderr=StringIO())  # no SystemCheckError


# --- identidock.W004: the public base URL ---------------------------------------------


@override_settings(PUBLIC_BASE_URL="", DEBUG=False)
def test_an_unset_public_base_url_is_a_warning_in_a_deployment():
    messages = [m for m in run_checks(include_deployment_checks=True) if m.id == "identidock.W004"]
    assert len(messages) == 1
    assert messages[0].level == WARNING
    assert "PUBLIC_BASE_URL" in messages[0].hint


@override_settings(PUBLIC_BASE_URL="https://identidock.example.com", DEBUG=False)
def test_a_public_base_url_passes():
    assert "identidock.W004" not in _reported()


def test_check_deploy_warns_without_a_public_base_url_but_does_not_fail_on_it():
    result = _check(
        "--deploy",
        "--fail-level",
        "ERROR",
        IDENTIDOCK_SALT=secrets.token_urlsafe(32),
        DATABASE_URL=os.environ["DATABASE_URL"],
        REDIS_URL=os.environ["REDIS_URL"],
    )
    assert result.returncode == 0, result.stderr
    assert "(identidock.W004)" in result.stdout + result.stderr


# --- The operator's way: the production settings and the environment -----------------


def _check(*arguments: str, **environment: str) -> subprocess.CompletedProcess:
    """`manage.py check` on the production settings, with only `environment` set of the
    settings that decide the checks."""
    decisive = {
        "DATABASE_URL",
        "REDIS_URL",
        "REDIS_SENTINELS",
        "IDENTIDOCK_SALT",
        "SILENCED_SYSTEM_CHECKS",
        "PUBLIC_BASE_URL",
        "DEBUG",
        "DJANGO_ALLOW_ASYNC_UNSAFE",  # the browser tests' (Django's async.E001 refuses it)
    }
    clean = {name: value for name, value in os.environ.items() if name not in decisive}
    clean.update(
        environment,
        DJANGO_SETTINGS_MODULE="identidock.settings",
        SECRET_KEY=secrets.token_urlsafe(50),
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check", *arguments],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_embedded_defaults_fail_check_deploy_with_all_three():
    result = _check("--deploy")
    assert result.returncode != 0
    for check_id in ("identidock.E001", "identidock.E002", "identidock.E003"):
        assert f"({check_id})" in result.stderr


def test_the_embedded_defaults_pass_the_plain_check():
    result = _check()
    assert result.returncode == 0, result.stderr


def test_a_deployment_with_its_own_salt_postgresql_and_redis_passes_check_deploy():
    result = _check(
        "--deploy",
        "--fail-level",
        "ERROR",
        IDENTIDOCK_SALT=secrets.token_urlsafe(32),
        DATABASE_URL=os.environ["DATABASE_URL"],
        REDIS_URL=os.environ["REDIS_URL"],
        PUBLIC_BASE_URL="https://identidock.example.com",
    )
    assert result.returncode == 0, result.stderr
    assert OURS not in result.stdout + result.stderr


def test_silenced_system_checks_from_the_environment_keep_the_original_salt():
    result = _check(
        "--deploy",
        "--fail-level",
        "ERROR",
        IDENTIDOCK_SALT=ORIGINAL_SALT,
        SILENCED_SYSTEM_CHECKS="identidock.E001, security.W004",
        DATABASE_URL=os.environ["DATABASE_URL"],
        REDIS_URL=os.environ["REDIS_URL"],
    )
    assert result.returncode == 0, result.stderr
    assert "identidock.E001" not in result.stdout + result.stderr
    assert "(2 silenced)" in result.stdout + result.stderr
