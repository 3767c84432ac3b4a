"""parse_monster_request: the `?size=N` shortcut agrees with the general query parser."""

from __future__ import annotations

import pytest

from renderer.wsgi import BadRequest, parse_monster_request

MONSTER_ID = "dnmonster"


@pytest.mark.parametrize(
    ("shortcut", "general"),
    [
        ("size=80", "size=%38%30"),
        ("size=0080", "width=80&height=80"),
        ("size=8", "size=8&"),
        ("size=1024", "&size=1024"),
    ],
)
def test_size_alone_reads_like_the_same_size_spelled_otherwise(shortcut: str, general: str) -> None:
    assert parse_monster_request(MONSTER_ID, shortcut) == (MONSTER_ID, *[int(shortcut[5:])] * 2)
    assert parse_monster_request(MONSTER_ID, shortcut) == parse_monster_request(MONSTER_ID, general)


def test_no_query_gives_the_default_size() -> None:
    assert parse_monster_request(MONSTER_ID, "") == (MONSTER_ID, 20, 20)


@pytest.mark.parametrize("query", ["size=7", "size=1025", "size=9999", "size=", "size=80&size=80"])
def test_bad_sizes_are_refused_whichever_way_they_are_read(query: str) -> None:
    with pytest.raises(BadRequest, match="size"):
        parse_monster_request(MONSTER_ID, query)
