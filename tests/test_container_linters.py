"""The container files' linters and schemas, run without a Docker engine.

hadolint lints the Dockerfile (every rule it is told to ignore explained above the
ignore), shellcheck the start script, and check-jsonschema validates every compose file,
the base file and both overrides, against the Compose Specification as compose reads it
(each `!reset` applied), none with the obsolete `version` or `links`.
"""

from __future__ import annotations

import json

import pytest

from tests import compose_files, dev_tools, dockerfile, start_script
from tests.compose_files import BASE, COMPOSE_FILES, DEV, ORIGINAL_RENDERER

DOCKERFILE = dockerfile.DOCKERFILE


def test_hadolint_finds_nothing_in_the_dockerfile():
    result = dev_tools.run(
        dev_tools.tool("hadolint"), "--no-color", "--failure-threshold", "style", "Dockerfile"
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_hadolint_ignore_is_explained_by_a_comment_above_it():
    lines = DOCKERFILE.read_text().splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore=" in line:
            explanation = lines[number - 1].strip()
            assert explanation.startswith("#") and "hadolint" not in explanation, line


def test_shellcheck_finds_nothing_in_the_start_script():
    result = dev_tools.run(dev_tools.tool("shellcheck"), str(start_script.START_SCRIPT))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_base_file_and_both_overrides_are_among_the_checked_compose_files():
    assert {BASE, DEV, ORIGINAL_RENDERER} <= set(COMPOSE_FILES)


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda path: path.name)
def test_compose_file_follows_the_compose_specification(path, tmp_path):
    # check-jsonschema knows no YAML tags: it gets the file as compose reads it, each
    # `!reset` attribute gone, as JSON.
    as_read = tmp_path / f"{path.stem}.json"
    as_read.write_text(json.dumps(compose_files.without_resets(compose_files.load(path))))
    result = dev_tools.run(
        dev_tools.tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(as_read)
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda path: path.name)
def test_compose_file_has_no_version_and_no_links(path):
    compose = compose_files.load(path)
    assert "version" not in compose
    assert all("links" not in service for service in compose["services"].values())
