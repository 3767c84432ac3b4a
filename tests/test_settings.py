"""Production settings refuse to start without what they need, and read every value with
the parsers of identidock/env.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from identidock import env

ROOT = Path(__file__).resolve().parent.parent


def _load_settings(code: str = "", **env: str) -> subprocess.CompletedProcess:
    """Load the production settings in a process with `env`, then run `code` there."""
    unset = {"SECRET_KEY", "DEBUG", "REDIS_URL", "REDIS_SENTINELS", "REDIS_SENTINEL_SERVICE"}
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    clean.update(env, DJANGO_SETTINGS_MODULE="identidock.settings")
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_refuses_to_start_without_secret_key_when_debug_is_off():
    result = _load_settings()
    assert result.returncode != 0
    assert "You must set SECRET_KEY" in result.stderr


def test_starts_without_secret_key_in_debug():
    assert _load_settings(DEBUG="1").returncode == 0


def test_starts_with_a_secret_key():
    assert _load_settings(SECRET_KEY="x" * 50).returncode == 0


def test_unreadable_boolean_is_a_clear_error():
    result = _load_settings(SECRET_KEY="x" * 50, DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG must be true or false" in result.stderr


def test_renderer_revision_with_characters_unfit_for_a_cache_key_is_refused():
    result = _load_settings(SECRET_KEY="x" * 50, DNMONSTER_REVISION="amouat 1.0:x")
    assert result.returncode != 0
    assert "DNMONSTER_REVISION may hold" in result.stderr


def test_cache_key_prefix_with_characters_unfit_for_a_cache_key_is_refused():
    result = _load_settings(SECRET_KEY="x" * 50, CACHE_KEY_PREFIX="two words")
    assert result.returncode != 0
    assert "CACHE_KEY_PREFIX may hold" in result.stderr


def _monster_cache(**env: str) -> dict:
    code = (
        "from django.conf import settings; import json; "
        "print(json.dumps(settings.CACHES['monsters']))"
    )
    result = _load_settings(code, SECRET_KEY="x" * 50, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_sentinels_give_the_monster_cache_the_primary_they_name():
    cache = _monster_cache(
        REDIS_SENTINELS="10.0.0.1:26379, sentinel-2:26380,[::1]:26381",
        REDIS_CONNECT_TIMEOUT="0.2",
        REDIS_TIMEOUT="0.3",
    )
    options = cache["OPTIONS"]
    assert cache["LOCATION"] == "redis://mymaster/0"
    assert options["CLIENT_CLASS"] == "django_redis.client.SentinelClient"
    assert options["CONNECTION_FACTORY"] == "django_redis.pool.SentinelConnectionFactory"
    assert options["SENTINELS"] == [["10.0.0.1", 26379], ["sentinel-2", 26380], ["::1", 26381]]
    # The same bounds on every wait: the servers, and the sentinels that name them.
    assert (options["SOCKET_CONNECT_TIMEOUT"], options["SOCKET_TIMEOUT"]) == (0.2, 0.3)
    assert options["SENTINEL_KWARGS"] == {"socket_connect_timeout": 0.2, "socket_timeout": 0.3}


def test_the_sentinel_service_names_the_master():
    cache = _monster_cache(REDIS_SENTINELS="s:26379", REDIS_SENTINEL_SERVICE="identidock")
    assert cache["LOCATION"] == "redis://identidock/0"


def test_one_redis_server_keeps_the_default_client():
    cache = _monster_cache(REDIS_URL="redis://redis:6379/0")
    assert cache["LOCATION"] == "redis://redis:6379/0"
    assert cache["OPTIONS"]["CLIENT_CLASS"] == "django_redis.client.DefaultClient"
    assert "SENTINELS" not in cache["OPTIONS"]


def test_redis_url_and_sentinels_together_are_refused_with_the_fix():
    result = _load_settings(
        SECRET_KEY="x" * 50, REDIS_URL="redis://redis:6379/0", REDIS_SENTINELS="s:26379"
    )
    assert result.returncode != 0
    assert "REDIS_URL and REDIS_SENTINELS are both set: leave REDIS_URL empty" in result.stderr


def test_a_sentinel_without_a_port_is_refused():
    result = _load_settings(SECRET_KEY="x" * 50, REDIS_SENTINELS="s:26379,sentinel-2")
    assert result.returncode != 0
    assert "REDIS_SENTINELS must list host:port pairs" in result.stderr
    assert "'sentinel-2'" in result.stderr


def test_a_service_name_django_redis_would_lower_case_is_refused():
    result = _load_settings(
        SECRET_KEY="x" * 50, REDIS_SENTINELS="s:26379", REDIS_SENTINEL_SERVICE="MyMaster"
    )
    assert result.returncode != 0
    assert "REDIS_SENTINEL_SERVICE must be the master's name in lower-case" in result.stderr


def test_a_bad_value_stops_django_with_improperly_configured_naming_the_variable():
    result = _load_settings(SECRET_KEY="x" * 50, BREAKER_FAILURES="three")
    assert result.returncode != 0
    assert (
        "django.core.exceptions.ImproperlyConfigured: BREAKER_FAILURES must be a whole number"
        " of at least 1, not 'three'." in result.stderr
    )


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "Infinity", "-0.5", "soon"])
def test_a_timeout_that_is_not_a_finite_non_negative_number_is_refused(value):
    result = _load_settings(SECRET_KEY="x" * 50, REDIS_TIMEOUT=value)
    assert result.returncode != 0
    assert (
        f"ImproperlyConfigured: REDIS_TIMEOUT must be a number of seconds, at least 0, "
        f"not {value!r}." in result.stderr
    )


# --- identidock/env.py: the parsers settings.py and gunicorn.conf.py share -------------


@pytest.mark.parametrize(
    ("value", "parsed"),
    [("", 1.5), ("2", 2.0), (" 0.25 ", 0.25), ("0", 0.0), ("1e-3", 0.001)],
)
def test_a_float_is_read_with_empty_meaning_the_default(monkeypatch, value, parsed):
    monkeypatch.setenv("IDENTIDOCK_TEST_FLOAT", value)
    assert env.env_float("IDENTIDOCK_TEST_FLOAT", 1.5) == parsed


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "infinity", "1e999"])
def test_a_float_is_never_nan_or_infinite(monkeypatch, value):
    monkeypatch.setenv("IDENTIDOCK_TEST_FLOAT", value)
    with pytest.raises(env.EnvValueError, match=r"^IDENTIDOCK_TEST_FLOAT must be a number,"):
        env.env_float("IDENTIDOCK_TEST_FLOAT", 1.0)


def test_a_float_below_its_minimum_is_refused_with_the_minimum(monkeypatch):
    monkeypatch.setenv("IDENTIDOCK_TEST_FLOAT", "-1")
    with pytest.raises(
        env.EnvValueError,
        match=r"^IDENTIDOCK_TEST_FLOAT must be a number of seconds, at least 0, not '-1'\.$",
    ):
        env.env_float("IDENTIDOCK_TEST_FLOAT", 1.0, unit="seconds")
    monkeypatch.setenv("IDENTIDOCK_TEST_FLOAT", "0.5")
    with pytest.raises(env.EnvValueError, match="at least 1, not '0.5'"):
        env.env_float("IDENTIDOCK_TEST_FLOAT", 2.0, minimum=1.0)


def test_a_minimum_below_zero_lets_negative_floats_through(monkeypatch):
    monkeypatch.setenv("IDENTIDOCK_TEST_FLOAT", "-1.5")
    assert env.env_float("IDENTIDOCK_TEST_FLOAT", 0.0, minimum=-2.0) == -1.5


@pytest.mark.parametrize("value", ["-1", "2.5", "+3", "²", "1 000", "nan"])
def test_an_int_is_digits_only(monkeypatch, value):
    monkeypatch.setenv("IDENTIDOCK_TEST_INT", value)
    with pytest.raises(
        env.EnvValueError,
        match=re.escape(
            f"IDENTIDOCK_TEST_INT must be a whole number of at least 0, not {value!r}."
        ),
    ):
        env.env_int("IDENTIDOCK_TEST_INT", 1)


def test_an_int_below_its_minimum_is_refused(monkeypatch):
    monkeypatch.setenv("IDENTIDOCK_TEST_INT", "0")
    with pytest.raises(env.EnvValueError, match="at least 1, not '0'"):
        env.env_int("IDENTIDOCK_TEST_INT", 5, minimum=1)
    monkeypatch.setenv("IDENTIDOCK_TEST_INT", "")
    assert env.env_int("IDENTIDOCK_TEST_INT", 5, minimum=1) == 5


@pytest.mark.parametrize(
    ("value", "parsed"), [("on", True), ("YES", True), ("1", True), ("off", False), ("", True)]
)
def test_a_switch_reads_the_usual_words(monkeypatch, value, parsed):
    monkeypatch.setenv("IDENTIDOCK_TEST_SWITCH", value)
    assert env.env_bool("IDENTIDOCK_TEST_SWITCH", True) is parsed


def test_a_list_drops_empty_items(monkeypatch):
    monkeypatch.setenv("IDENTIDOCK_TEST_LIST", " a, ,b ,")
    assert env.env_list("IDENTIDOCK_TEST_LIST") == ["a", "b"]
    monkeypatch.setenv("IDENTIDOCK_TEST_LIST", "")
    assert env.env_list("IDENTIDOCK_TEST_LIST", "x,y") == ["x", "y"]


def test_a_reader_reports_a_bad_value_its_own_way(monkeypatch):
    monkeypatch.setenv("IDENTIDOCK_TEST_INT", "many")
    strict_int = env.raising(ImproperlyConfigured, env.env_int)
    with pytest.raises(ImproperlyConfigured, match="^IDENTIDOCK_TEST_INT must be a whole"):
        strict_int("IDENTIDOCK_TEST_INT", 1)
