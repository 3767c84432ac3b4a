"""The images the Kubernetes overlays run: ours as built here, the others pinned.

prod runs both of our images (the web app's and the renderer's, the Dockerfile's two
targets) from one registry, pinned to the project's version; dev runs the images built
here, tagged dev; every other image is pinned to a version.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests import manifests
from tests.manifests import IMAGE_STAGES, OVERLAYS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Each overlay's objects, rendered once; a missing kubectl fails with the fix."""
    return manifests.render()


def _images(resources: list[dict]) -> set[str]:
    return {
        container["image"]
        for workload in manifests.workloads(resources)
        for container in manifests.containers(manifests.pod_template(workload)["spec"])
    }


def test_prod_runs_both_images_from_one_registry_pinned_to_the_projects_version(rendered):
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    ours = {
        image for image in _images(rendered["prod"]) if manifests.image_name(image) in IMAGE_STAGES
    }
    assert {manifests.image_name(image) for image in ours} == set(IMAGE_STAGES)
    assert all(image.endswith(f":{version}") for image in ours)
    assert len({image.rpartition("/")[0] for image in ours}) == 1  # one registry


def test_dev_runs_the_images_built_here(rendered):
    ours = {
        image for image in _images(rendered["dev"]) if manifests.image_name(image) in IMAGE_STAGES
    }
    assert ours == {f"{name}:dev" for name in IMAGE_STAGES}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_other_images_are_pinned_to_versions(rendered, overlay):
    for image in _images(rendered[overlay]):
        if manifests.image_name(image) in IMAGE_STAGES:
            continue
        name, _, tag = image.rpartition(":")
        assert name and re.fullmatch(r"\d+(\.\d+)+(-alpine)?", tag), image
