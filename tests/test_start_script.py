"""docker/cmd.sh, the images' start script, run with stand-ins for python and gunicorn.

It is strict bash; by default (and for ENV=PROD or STAGING) it runs the deployment
checks, stops if they fail, and otherwise execs gunicorn with gunicorn.conf.py on
identidock.wsgi in its own process, the one docker signals; ENV=DEV runs Django's
reloading server and ENV=UNIT the test suite instead.
"""

from __future__ import annotations

import pytest

from tests import start_script


@pytest.fixture
def stub_path(tmp_path) -> str:
    """`python` and `gunicorn` stand-ins that print their argv and PID, then exit."""
    return start_script.stand_ins(tmp_path)


def test_start_script_is_strict_bash():
    text = start_script.START_SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -o errexit -o nounset -o pipefail" in text


@pytest.mark.parametrize("env", [None, "PROD", "STAGING"])
def test_start_script_execs_gunicorn_with_its_config_by_default(stub_path, env):
    start_script.assert_execs_the_web_app(
        *start_script.start(stub_path, **({"ENV": env} if env else {}))
    )


@pytest.mark.parametrize("env", [None, "PROD", "STAGING"])
def test_start_script_runs_the_deployment_checks_before_gunicorn(stub_path, env):
    _, returncode, lines = start_script.run(stub_path, **({"ENV": env} if env else {}))
    assert returncode == 0
    checked, started = (line.split(" ", 1)[1] for line in lines[-2:])
    assert checked == "python manage.py check --deploy --fail-level ERROR"
    assert started == "gunicorn --config gunicorn.conf.py identidock.wsgi"


def test_a_failed_deployment_check_stops_the_start_before_gunicorn(stub_path, tmp_path):
    # `manage.py check` exits non-zero on an error (the public salt, SQLite, ...).
    (tmp_path / "python").write_text('#!/bin/sh\necho "$$ python $*"\n[ "$2" != check ]\n')
    _, returncode, lines = start_script.run(stub_path)
    assert returncode != 0
    assert lines[-1].endswith("python manage.py check --deploy --fail-level ERROR")
    assert not any(" gunicorn " in line for line in lines)


def test_start_script_runs_the_auto_reloading_server_in_dev(stub_path):
    pid, started = start_script.start(stub_path, ENV="DEV")
    assert started == f"{pid} python manage.py runserver 0.0.0.0:5000"


def test_start_script_runs_the_test_suite_in_unit(stub_path):
    pid, started = start_script.start(stub_path, ENV="UNIT")
    assert started == f"{pid} python -m pytest -p no:cacheprovider"
