"""bench/visitor.py: what the serving benches learn from the home page before the load."""

from __future__ import annotations

import pytest

from bench.visitor import bench_hashes, parse_home_page

HASH = "ab" * 32
PAGE = """
<img class="brand__mark" src="/static/monsters/brand-40.abc.png" width="40">
<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="tok123">
<img src="/monster/{hash}{query}" srcset="/monster/{hash}?size=160 2x" width="80">
"""


def _page(query: str) -> str:
    return PAGE.format(hash=HASH, query=query)


def test_a_page_without_a_revision_in_its_urls_gets_the_computed_one():
    site = parse_home_page(_page("?size=80"), "cookie123", "identidock-r1")
    assert site.monster_query == "?size=80&v=identidock-r1"
    assert (site.csrf_cookie, site.csrf_token) == ("csrftoken=cookie123", "tok123")


def test_a_page_with_a_revision_in_its_urls_keeps_its_own():
    site = parse_home_page(_page("?size=80&amp;v=builtin-r7"), "c", "identidock-r1")
    assert site.monster_query == "?size=80&v=builtin-r7"


def test_the_benches_monster_paths_take_the_pages_query():
    site = parse_home_page(_page("?size=120&amp;v=r7"), "c", "r1")
    [path] = site.monster_paths([HASH])
    assert path == f"/monster/{HASH}?size=80&v=r7"


def test_a_page_without_a_monster_or_a_csrf_cookie_stops_the_bench():
    with pytest.raises(RuntimeError, match="no <img src=/monster/"):
        parse_home_page("<img src='/static/x.png'>", "c", "r")
    with pytest.raises(RuntimeError, match="CSRF"):
        parse_home_page(_page("?size=80"), None, "r")


def test_every_run_warms_the_same_distinct_hashes():
    hashes = bench_hashes(1000)
    assert hashes == bench_hashes(1000)
    assert len(set(hashes)) == 1000
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in hashes)
