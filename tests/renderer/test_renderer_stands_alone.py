"""The renderer stands alone: no Django, nothing of the web app, nothing to install but
requirements/renderer.txt, which is all its image has (the Dockerfile's `renderer` target).

Read statically (every import in renderer/), then run: a fresh interpreter that can import
the standard library, a copy of renderer/ and what renderer.txt installs, and nothing else
(Django is installed here, so it is refused by an import hook, as the image refuses it by
not having it), imports and draws; then serves, under the image's own command.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from packaging.requirements import Requirement

from tests import dockerfile
from tests.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
RENDERER = REPO_ROOT / "renderer"
REQUIREMENTS = REPO_ROOT / "requirements" / "renderer.txt"
THE_WEB_APP = {"django", "monsters", "identidock"}
TIMEOUT_SECONDS = 15


def _distributions(requirements: list[str]) -> set[str]:
    """The distributions pip installs for `requirements`: them and what they require,
    extras aside (normalised names)."""
    found: set[str] = set()
    pending = [Requirement(line) for line in requirements]
    while pending:
        requirement = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        if name in found:
            continue
        found.add(name)
        pending += [Requirement(line) for line in importlib.metadata.requires(name) or []]
    return found


def _renderer_requirements() -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in REQUIREMENTS.read_text().splitlines())
    return [line for line in lines if line]


def _importable_packages() -> set[str]:
    """The top-level modules the renderer's image has, besides the standard library."""
    wanted = _distributions(_renderer_requirements())
    modules = {
        module
        for module, distributions in importlib.metadata.packages_distributions().items()
        if any(re.sub(r"[-_.]+", "-", d).lower() in wanted for d in distributions)
    }
    return modules | {"renderer"}


def _prelude(path: Path) -> str:
    """Python that leaves the interpreter (started with -I -S: no site, no environment)
    able to import the standard library, `path` (holding a copy of renderer/) and the
    packages renderer.txt installs, and nothing else."""
    return f"""
import importlib.abc, sys
ALLOWED = {sorted(_importable_packages())!r}
class OnlyTheRenderersImage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in sys.stdlib_module_names or top in ALLOWED:
            return None
        raise ModuleNotFoundError(f"No module named {{name!r}} in the renderer's image", name=name)
sys.meta_path.insert(0, OnlyTheRenderersImage())
sys.path[:0] = [{str(path)!r}]
sys.path += [{sysconfig.get_path("purelib")!r}, {sysconfig.get_path("platlib")!r}]
"""


@pytest.fixture
def image_root(tmp_path: Path) -> Path:
    """A directory like the renderer image's WORKDIR: what its COPY instructions take from
    the repository (renderer/ and its requirements), placed where they put it."""
    for copy in dockerfile.stages()["renderer"].instructions("COPY"):
        *sources, destination = (word for word in copy.split() if not word.startswith("--"))
        for source in sources:
            origin, target = REPO_ROOT / source, tmp_path / destination
            if origin.is_dir():
                ignore = shutil.ignore_patterns("__pycache__")
                shutil.copytree(origin, target, ignore=ignore, dirs_exist_ok=True)
            else:
                if destination.endswith("/"):
                    target = target / origin.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(origin, target)
    assert (tmp_path / "renderer" / "wsgi.py").exists()
    return tmp_path


def _python(root: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", _prelude(root) + code],
        cwd=root,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


# --- Read: every import in renderer/ -------------------------------------------------


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, top-level module) for every absolute import in a module."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name.partition(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.partition(".")[0]


def _sources() -> list[Path]:
    sources = sorted(RENDERER.rglob("*.py"))
    assert RENDERER / "wsgi.py" in sources
    return sources


@pytest.mark.parametrize("path", _sources(), ids=lambda path: path.name)
def test_renderer_module_imports_nothing_of_django_or_the_web_app(path: Path) -> None:
    found = [f"{path.name}:{line} {module}" for line, module in _imports(path)]
    assert not [entry for entry in found if entry.rpartition(" ")[2] in THE_WEB_APP]


@pytest.mark.parametrize("path", _sources(), ids=lambda path: path.name)
def test_renderer_module_imports_only_the_standard_library_and_its_requirements(
    path: Path,
) -> None:
    allowed = _importable_packages() | set(sys.stdlib_module_names)
    outside = [f"{path.name}:{line} {m}" for line, m in _imports(path) if m not in allowed]
    assert not outside, f"not in requirements/renderer.txt: {outside}"


@pytest.mark.parametrize("path", _sources(), ids=lambda path: path.name)
def test_renderer_module_imports_nothing_by_name_at_run_time(path: Path) -> None:
    # An import the two tests above cannot read.
    calls = [
        node.func for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Call)
    ]
    names = {f.id if isinstance(f, ast.Name) else getattr(f, "attr", "") for f in calls}
    assert not names & {"__import__", "import_module"}


# --- Run: the renderer with nothing but what its image has ----------------------------


def test_the_prelude_really_refuses_django(image_root: Path) -> None:
    assert importlib.util.find_spec("django") is not None  # installed here, unlike there
    result = _python(image_root, "import django")
    assert result.returncode != 0
    assert "ModuleNotFoundError: No module named 'django'" in result.stderr


def test_renderer_imports_and_draws_every_format_with_only_its_requirements(
    image_root: Path,
) -> None:
    result = _python(
        image_root,
        """
import json
import renderer, renderer.wsgi
statuses = []
def start_response(status, headers):
    statuses.append((status, dict(headers)["Content-Type"]))
for path, query in (("/monster/alone", "size=80"), ("/healthz", "")):
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query}
    b"".join(renderer.wsgi.app(environ, start_response))
drawn = [renderer.render("alone", 80)[:8].hex(), renderer.render_svg("alone", 80)[:5].decode()]
drawn.append(renderer.render_webp("alone", 80)[8:12].decode())
print(json.dumps({"statuses": statuses, "drawn": drawn, "renderer": renderer.__file__,
                  "modules": sorted({name.partition(".")[0] for name in sys.modules})}))
""",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["statuses"] == [["200 OK", "image/png"], ["200 OK", "text/plain; charset=utf-8"]]
    assert report["drawn"] == ["89504e470d0a1a0a", "<svg ", "WEBP"]
    assert Path(report["renderer"]).is_relative_to(image_root)  # the copy, not the checkout
    loaded = set(report["modules"]) - set(sys.stdlib_module_names) - {"__main__"}
    assert loaded <= _importable_packages()
    assert not loaded & THE_WEB_APP


@pytest.fixture
def served(image_root: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The image's CMD, run in a copy of its /app with only its packages importable, on a
    free port of the loopback instead of 0.0.0.0:8080. (process, base URL)"""
    stage = dockerfile.stages()["renderer"]
    command = stage.exec_form("CMD")
    assert command[0] == "gunicorn"
    port = free_port()
    arguments = [
        f"127.0.0.1:{port}" if previous == "--bind" else part
        for previous, part in zip(["", *command], command, strict=False)
    ]
    code = f"sys.argv = {arguments!r}\nfrom gunicorn.app.wsgiapp import run\nrun()\n"
    environment = {"PATH": "/usr/bin:/bin", **stage.environment()}
    with (image_root / "stdout").open("w") as stdout, (image_root / "stderr").open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _prelude(image_root) + code],
            cwd=image_root,
            env=environment,
            stdout=stdout,
            stderr=err,
            text=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answering(process, base_url, image_root)
        yield process, base_url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    stderr = (image_root / "stderr").read_text()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr


def _wait_until_answering(process: subprocess.Popen[str], base_url: str, root: Path) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, (root / "stderr").read_text()
        try:
            requests.get(base_url + "/healthz", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    pytest.fail("the renderer's gunicorn did not answer in time")


def _healthcheck_path() -> str:
    command = dockerfile.stages()["renderer"].exec_form("HEALTHCHECK")
    (url,) = re.findall(r"http://[^'\"\s]+", " ".join(command))
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _workers(process: subprocess.Popen[str]) -> set[int]:
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text()
    return {int(pid) for pid in children.split()}


def test_the_images_command_answers_the_images_healthcheck_with_a_monster(
    served: tuple[subprocess.Popen[str], str],
) -> None:
    _, base_url = served
    response = requests.get(base_url + _healthcheck_path(), timeout=TIMEOUT_SECONDS)
    assert response.status_code == HTTPStatus.OK
    assert response.headers["Content-Type"] == "image/png"


def _wait_for_workers(process: subprocess.Popen[str], count: int, gone: int = 0) -> set[int]:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        workers = _workers(process)
        if len(workers) == count and gone not in workers:
            return workers
        time.sleep(0.05)
    pytest.fail(f"expected {count} workers, without {gone}, have {sorted(_workers(process))}")


def test_a_worker_that_dies_is_replaced_and_the_server_serves_on(
    served: tuple[subprocess.Popen[str], str],
) -> None:
    # What an out-of-memory kill does. (The web app's gunicorn.conf.py, whose hooks need
    # prometheus-client, would take the whole server down here.)
    process, base_url = served
    count = int(dockerfile.stages()["renderer"].environment()["WEB_CONCURRENCY"])
    victim = min(_wait_for_workers(process, count))
    os.kill(victim, signal.SIGKILL)
    _wait_for_workers(process, count, gone=victim)
    assert process.poll() is None
    response = requests.get(base_url + _healthcheck_path(), timeout=TIMEOUT_SECONDS)
    assert response.status_code == HTTPStatus.OK
