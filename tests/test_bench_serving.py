"""bench/serving_bench.py: the serving benches' reports gathered in one result file, every
target in one table first."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.rounds import Section
from bench.serving_bench import combined_report, demoted, parse_arguments
from bench.targets import Verdict

HIT = Section(
    "hit_bench",
    ["# hit_bench, 2026-12-06", "", "## Hits against the ceiling", "", "| table |"],
    [
        Verdict("hit", "median of rounds >= 0.75 x ceiling", 0.78, True, " (rounds: 0.78)"),
        Verdict("rss", "<= 80 MB per worker", 91.0, False, shown="91.0 MB"),
    ],
)
PROXY = Section(
    "proxy_bench",
    ["# proxy_bench, 2026-12-06", "", "```", "# not a heading", "```"],
    [Verdict("proxy_304", ">= 0.60 x static nginx", 0.64, True)],
)


def test_every_target_of_every_bench_is_one_row_of_the_first_table():
    lines = combined_report([HIT, PROXY], {})
    assert lines[0] == f"# serving_bench, {datetime.now(UTC).date().isoformat()}"
    start = lines.index("## Every target") + 2
    header, rule, *rows = lines[start : lines.index("", start)]
    assert header == "| scenario | target | value | verdict | bench |"
    assert [row.split("|")[-2].strip() for row in rows] == ["hit_bench", "hit_bench", "proxy_bench"]
    assert "| 91.0 MB | FAIL | hit_bench |" in rows[1]
    assert "Targets met: 2 of 3; not met: rss <= 80 MB per worker." in lines


def test_each_benchs_report_follows_as_a_section_of_its_own():
    lines = combined_report([HIT, PROXY], {})
    assert lines.index("## hit_bench, 2026-12-06") < lines.index("## proxy_bench, 2026-12-06")
    assert "### Hits against the ceiling" in lines
    assert lines.index("## Every target") < lines.index("## hit_bench, 2026-12-06")


def test_a_bench_that_failed_is_named():
    lines = combined_report([HIT], {"proxy_bench": "RuntimeError: nginx did not start"})
    assert "FAILED: proxy_bench did not finish: RuntimeError: nginx did not start" in lines


def test_code_blocks_keep_their_lines_when_headings_go_one_level_down():
    assert demoted(PROXY.lines) == [
        "## proxy_bench, 2026-12-06",
        "",
        "```",
        "# not a heading",
        "```",
    ]


def test_each_bench_gets_its_own_options_then_the_common_ones():
    own, common = parse_arguments(
        ["--hit-args=--redis-only-env MONSTER_PROCESS_CACHE_MB=0 --rounds 3", "--duration", "7"]
    )
    assert own["hit"] == ["--redis-only-env", "MONSTER_PROCESS_CACHE_MB=0", "--rounds", "3"]
    assert own["page"] == own["proxy"] == []
    assert common == ["--duration", "7"]
