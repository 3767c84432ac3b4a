"""The compose overrides: docker-compose.dev.yml and docker-compose.dnmonster.yml.

Each is merged onto docker-compose.yml by Compose's documented rules. The dev override
runs Django's reloading server on the mounted code with DEBUG on and builds the web
image with the test tools; the dnmonster override swaps our renderer for the original
amouat/dnmonster image (pulled, never built here, its healthcheck without Python) and
tells the web app it gets the original art, where the base file names our renderer's
revision.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from renderer import RENDERER_VERSION
from tests import compose_files
from tests.compose_files import DEV, ORIGINAL_RENDERER

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"


def test_dev_override_runs_the_reloading_server_on_mounted_code_with_debug():
    identidock = compose_files.service("identidock", DEV)
    assert set(compose_files.load(DEV)["services"]) == {"identidock"}
    assert identidock["environment"]["ENV"] == "DEV"
    assert identidock["environment"]["DEBUG"] == "true"
    assert identidock["volumes"] == [".:/app"]


def test_dev_override_builds_the_web_image_with_the_test_tools_for_env_unit():
    args = compose_files.service("identidock", DEV)["build"]["args"]
    assert (REQUIREMENTS / f"{args['REQUIREMENTS']}.txt").exists()
    assert args["REQUIREMENTS"] == "dev"
    merged = compose_files.merge(compose_files.load(), compose_files.load(DEV))["services"]
    assert merged["identidock"]["build"]["target"] == "web"


def test_web_app_is_told_the_revision_of_our_renderer_it_gets():
    assert (
        compose_files.environment("identidock")["DNMONSTER_REVISION"]
        == f"identidock-r{RENDERER_VERSION}"
    )


def test_dnmonster_override_tells_the_web_app_it_gets_the_original_art():
    environment = compose_files.service("identidock", ORIGINAL_RENDERER)["environment"]
    assert environment == {"DNMONSTER_REVISION": "amouat-1.0"}


def _with_the_original_renderer() -> dict[str, Any]:
    return compose_files.merge(compose_files.load(), compose_files.load(ORIGINAL_RENDERER))[
        "services"
    ]


def test_dnmonster_override_changes_only_the_renderer_and_what_the_web_app_is_told():
    assert set(compose_files.load(ORIGINAL_RENDERER)["services"]) == {"identidock", "dnmonster"}
    merged = _with_the_original_renderer()
    assert merged["identidock"]["environment"]["DNMONSTER_URL"] == "http://dnmonster:8080"
    assert merged["dnmonster"]["expose"] == compose_files.service("dnmonster")["expose"]


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
