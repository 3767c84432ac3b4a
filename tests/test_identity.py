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


@pytest.mark.parametrize(
    "name",
    [
        "\u3164",  # Hangul filler
        "\u115f\u1160",  # Hangul choseong and jungseong fillers
        "\uffa0",  # halfwidth Hangul filler
        "\u2800",  # braille pattern blank
        "\u2800\u3164\u200b",
        "\u0301",  # a combining acute accent with no letter to sit on
        "\u20dd",  # a combining enclosing circle (Me) alone
        "\ufe0f\u0301",
    ],
)
def test_names_that_draw_nothing_are_refused(name):
    assert identity.name_problem(name) == "A name needs at least one visible character."


@pytest.mark.parametrize("name", ["Moby\u2028Dock", "Moby\u2029Dock", "a\u2028"])
def test_line_and_paragraph_separators_are_refused_anywhere(name):
    assert "one line" in identity.name_problem(name)


@pytest.mark.parametrize(
    "name",
    ["e\u0301", "\u3164x", "\u2800\u2801", "\u1100\u1161", "\u20ac", "\ufe0f\u2764", "x\u3164"],
)
def test_a_blank_or_mark_beside_something_visible_is_kept(name):
    assert identity.name_problem(name) is None
