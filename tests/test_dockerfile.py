"""The Dockerfile's two images, the web app's and the renderer's, read without an engine.

Both targets are on the suite's Python, run unbuffered as a numeric non-root user, and
only the builder stage compiles. The web image installs the builder's wheels without
keeping them, collects static files with a throwaway key, checks /healthz on the port it
exposes and starts gunicorn through docker/cmd.sh; the renderer's copies nothing but
renderer/ and its pinned requirements (the web app's pins), installed from wheels only,
and serves renderer.wsgi with threaded gunicorn workers, its healthcheck a real monster.
"""

from __future__ import annotations

import re
import sys
from http import HTTPStatus
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest

from renderer.wsgi import app as renderer_app
from tests import compose_files, dockerfile, start_script
from tests.wsgi_calls import call

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = dockerfile.DOCKERFILE
REQUIREMENTS = ROOT / "requirements"
# What the renderer's image may copy from the build context, and nothing else.
RENDERER_IMAGE_FILES = {"renderer/", "requirements/renderer.txt"}


def _stage(name: str) -> dockerfile.Stage:
    return dockerfile.stages()[name]


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
    assert (
        web.instructions("EXPOSE")
        == [str(url.port)]
        == compose_files.service("identidock")["expose"]
    )
    assert (url.hostname, url.path) == ("127.0.0.1", "/healthz")


def test_web_image_starts_gunicorn_on_identidock_wsgi_through_the_start_script(tmp_path):
    web = _stage("web")
    (program, *arguments) = web.exec_form("CMD")
    # The whole context is copied to the WORKDIR, so the program is the repository's script.
    assert ". ." in web.instructions("COPY")
    workdir = PurePosixPath(web.instructions("WORKDIR")[-1])
    assert ROOT / PurePosixPath(program).relative_to(workdir) == start_script.START_SCRIPT
    assert not arguments
    pid, started = start_script.start(start_script.stand_ins(tmp_path))
    start_script.assert_execs_the_web_app(pid, started)


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
