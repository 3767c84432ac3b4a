from __future__ import annotations

import re

import pytest

from monsters.images import identity

# Pinned from the original Flask app: sha256(b"UNIQUE_SALT" + name).hexdigest().
MOBY_DOCK_HASH = "e42fa5763f232a090b14609233d3689f4e8da3e03c8b3e218b494b61b3960ec6"


def test_moby_dock_hashes_exactly_as_in_the_original_app():
    assert identity.hash_name("Moby Dock") == MOBY_DOCK_HASH


def test_salt_comes_from_settings(settings):
    settings.IDENTIDOCK_SALT = "ANOTHER_SALT"
    assert identity.hash_name("Moby Dock") != MOBY_DOCK_HASH
    assert identity.hash_name("Moby Dock") == identity.hash_name("Moby Dock", salt="ANOTHER_SALT")


def test_non_ascii_names_hash_as_utf8():
    expected = "186443db2ad2f324c0fdb72f819f8557f69a63b06741a156726a053fea7b5d12"
    assert identity.hash_name("김철수") == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        (MOBY_DOCK_HASH, True),
        (MOBY_DOCK_HASH.upper(), False),
        (MOBY_DOCK_HASH[:-1], False),
        (MOBY_DOCK_HASH + "0", False),
        ("g" * 64, False),
    ],
)
def test_a_name_hash_is_exactly_64_lowercase_hex_characters(value, expected):
    assert bool(re.fullmatch(identity.NAME_HASH_PATTERN, value)) is expected


@pytest.mark.parametrize(
    "name, problem",
    [
        ("", "Please type a name."),
        ("x" * 201, "at most 200 characters"),
        ("tab\there", "control characters"),
        ("bell\x07", "control characters"),
    ],
)
def test_unacceptable_names_say_why(name, problem):
    assert problem in identity.name_problem(name)


@pytest.mark.parametrize("name", ["x" * 200, "Joe Bloggs", "김철수", "Zoë 👩‍🚀"])
def test_acceptable_names_have_no_problem(name):
    assert identity.name_problem(name) is None
