"""The serving benches' verdicts: ratios to a ceiling measured in the same run (over all
rounds, or the median of the rounds' own), the hit's latency tail against the ceiling's,
the miss's bound through Django, the workers' memory, and the table of every verdict."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from bench import targets
from bench.hit_bench import TARGETS as HIT_TARGETS
from bench.miss_bench import TARGETS as MISS_TARGETS
from bench.page_bench import TARGETS as PAGE_TARGETS
from bench.worker_rss import WorkerRss
from bench.wrk import Measured, WrkRun


def measured(rate: float, *, p50_us: int = 1000, p99_us: int = 1000, cpu_us: float = 0) -> Measured:
    """One second of `rate` requests: 98 % at p50_us, 2 % at p99_us."""
    run = WrkRun(
        requests=int(rate),
        seconds=1.0,
        errors={},
        latency_us=Counter({p50_us: 98, p99_us: 2}),
        server_cpu_seconds=cpu_us * rate / 1e6,
    )
    return Measured([run])


def test_a_ratio_target_passes_at_its_minimum_and_fails_below_it():
    target = targets.at_least("hit", 0.8, over="ceiling")
    [met] = targets.judge([target], {"ceiling": measured(10_000), "hit": measured(8_000)})
    [missed] = targets.judge([target], {"ceiling": measured(10_000), "hit": measured(7_900)})
    assert (met.value, met.passed) == (pytest.approx(0.8), True)
    assert (missed.value, missed.passed) == (pytest.approx(0.79), False)


def rounds_of(*rates: float, p50_us: int = 1000, p99_us: int = 1000) -> Measured:
    """One one-second run per round, at each of `rates`."""
    runs = [measured(rate, p50_us=p50_us, p99_us=p99_us).runs[0] for rate in rates]
    return Measured(runs)


def test_a_ratio_is_taken_over_the_scenario_the_target_names():
    [verdict] = targets.judge(
        MISS_TARGETS[1:],  # the miss, over the bare miss (not the renderer)
        {
            "ceiling": measured(10_000),
            "renderer": measured(1_000),
            "bare_miss": measured(800),
            "miss": measured(600),
        },
    )
    assert (verdict.scenario, verdict.value, verdict.passed) == ("miss", pytest.approx(0.75), True)
    assert "bare miss" in verdict.target


def test_the_median_of_rounds_is_taken_over_each_rounds_own_ratio():
    # One round where the hit came out well pulls the summed rates up to 0.81; round by
    # round the hit is at 0.70, 0.96 and 0.72, and the median says what it usually is.
    results = {
        "ceiling": rounds_of(10_000, 13_000, 10_000),
        "hit": rounds_of(7_000, 12_500, 7_200),
    }
    target = targets.median_of_rounds("hit", 0.75, over="ceiling")
    [verdict] = targets.judge([target], results)
    assert verdict.value == pytest.approx(0.72)
    assert not verdict.passed
    assert targets.ratio(results, "hit", "ceiling") == pytest.approx(26_700 / 33_000)
    assert "0.70, 0.96, 0.72" in verdict.note


def test_the_median_of_rounds_passes_when_most_rounds_reach_the_minimum():
    results = {
        "ceiling": rounds_of(10_000, 10_000, 10_000),
        "hit": rounds_of(7_600, 5_000, 8_000),  # one round spoiled: the median stands
    }
    [verdict] = targets.judge([targets.median_of_rounds("hit", 0.75, over="ceiling")], results)
    assert (verdict.value, verdict.passed) == (pytest.approx(0.76), True)


def test_a_round_whose_reference_served_nothing_fails_the_median():
    results = {"ceiling": rounds_of(0), "hit": rounds_of(8_000)}
    [verdict] = targets.judge([targets.median_of_rounds("hit", 0.75, over="ceiling")], results)
    assert math.isnan(verdict.value)
    assert not verdict.passed


def test_the_pages_targets_are_over_djangos_floor_not_a_bare_app():
    results = {
        "ceiling": measured(10_000),  # a bare app's figure, should one be there: not used
        "django_floor": measured(2_000),
        "page_get": measured(1_700),
        "page_post": measured(900),
    }
    verdicts = {v.scenario: v for v in targets.judge(PAGE_TARGETS, results)}
    assert verdicts["page_get"].value == pytest.approx(0.85)
    assert verdicts["page_get"].passed
    assert verdicts["page_post"].value == pytest.approx(0.45)
    assert not verdicts["page_post"].passed


def test_a_target_whose_scenarios_were_not_measured_is_not_judged():
    verdicts = targets.judge(PAGE_TARGETS, {"django_floor": measured(2_000)})
    assert verdicts == []


def test_a_ceiling_that_served_nothing_fails_its_ratios():
    [verdict] = targets.judge(
        [targets.at_least("hit", 0.8, over="ceiling")],
        {"ceiling": Measured(), "hit": measured(8_000)},
    )
    assert math.isnan(verdict.value)
    assert not verdict.passed


def test_the_hits_tail_is_judged_against_the_ceilings_own_tail():
    target = targets.tail_relative("hit", 1.5, reference="ceiling")
    noisy = {  # the machine's tail: both long, the hit's no longer than the ceiling's
        "ceiling": rounds_of(10_000, 9_000, p50_us=1000, p99_us=6000),
        "hit": rounds_of(8_000, 7_500, p50_us=1100, p99_us=7700),
    }
    ours = {  # the hit adds a tail of its own to a quiet ceiling
        "ceiling": rounds_of(10_000, 9_000, p50_us=1000, p99_us=2000),
        "hit": rounds_of(8_000, 7_500, p50_us=1000, p99_us=3100),
    }
    [machine] = targets.judge([target], noisy)
    [added] = targets.judge([target], ours)
    assert (machine.value, machine.passed) == (pytest.approx(7.0 / 6.0), True)
    assert (added.value, added.passed) == (pytest.approx(1.55), False)
    assert "2.0" in added.note  # the ceiling's own p99/p50 beside it


def test_the_hit_bench_judges_the_hit_by_the_median_and_the_tail_against_the_ceiling():
    results = {
        "ceiling": rounds_of(10_000, 10_000, 10_000, p50_us=1000, p99_us=4000),
        "hit": rounds_of(7_400, 7_600, 7_700, p50_us=1000, p99_us=5000),
        "not_modified": rounds_of(8_100, 8_000, 7_900),
    }
    verdicts = {v.target: v for v in targets.judge(HIT_TARGETS, results)}
    median = next(v for t, v in verdicts.items() if t.startswith("median"))
    tail = next(v for t, v in verdicts.items() if t.startswith("p99/p50"))
    [not_modified] = [v for v in verdicts.values() if v.scenario == "not_modified"]
    assert (median.value, median.passed) == (pytest.approx(0.76), True)
    assert (tail.value, tail.passed) == (pytest.approx(1.25), True)
    assert (not_modified.value, not_modified.passed) == (pytest.approx(0.80), True)


def test_the_summary_counts_the_targets_met():
    verdicts = [
        targets.Verdict("hit", ">= 0.80 x ceiling", 0.9, True),
        targets.Verdict("not_modified", ">= 0.90 x ceiling", 0.85, False),
    ]
    assert targets.summary(verdicts).startswith("Targets met: 1 of 2")


def test_the_table_has_a_row_per_scenario_and_each_verdict_on_its_own_row():
    results = {"ceiling": measured(10_000), "hit": measured(9_000)}
    verdicts = targets.judge([targets.at_least("hit", 0.8, over="ceiling")], results)
    header, rule, ceiling, hit = targets.table(
        [("ceiling", "ceiling"), ("hit", "hit")], results, "ceiling", verdicts
    )
    assert header.count("|") == rule.count("|") == ceiling.count("|") == hit.count("|")
    assert "PASS" in hit
    assert "PASS" not in ceiling


def test_workers_that_stay_under_the_limit_and_flat_pass():
    rss = WorkerRss({1: 70.0, 2: 72.0}, {1: 71.0, 2: 73.0}, hits=100_000, seconds=20)
    assert rss.peak_mb == 73.0
    assert rss.change == pytest.approx(2 / 142)
    assert rss.under_limit and rss.flat


def test_a_worker_over_the_limit_or_growing_fails():
    rss = WorkerRss({1: 70.0, 2: 72.0}, {1: 79.0, 2: 81.0}, hits=100_000, seconds=20)
    assert not rss.under_limit
    assert not rss.flat


def test_replaced_workers_are_never_flat_whatever_their_memory():
    rss = WorkerRss({1: 70.0, 2: 72.0}, {1: 70.0, 3: 72.0}, hits=100_000, seconds=20)
    assert rss.replaced == 1
    assert not rss.flat


def test_the_workers_memory_targets_are_verdicts_for_the_table_of_every_target():
    rss = WorkerRss({1: 70.0, 2: 72.0}, {1: 79.0, 2: 82.5}, hits=100_000, seconds=20)
    limit, flat = rss.verdicts()
    assert (limit.scenario, limit.value_text, limit.passed) == ("rss", "82.5 MB", False)
    assert (flat.value, flat.passed) == (pytest.approx(19.5 / 142), False)
    assert flat.value_text == "+13.7%"


def test_the_table_of_every_target_names_each_verdict_and_its_bench():
    verdicts = [
        ("hit_bench", targets.Verdict("hit", "median of rounds >= 0.75 x ceiling", 0.81, True)),
        ("proxy_bench", targets.Verdict("proxy_304", ">= 0.60 x static nginx", 0.52, False)),
    ]
    header, rule, hit, proxied = targets.verdict_table(verdicts)
    assert header.count("|") == rule.count("|") == hit.count("|") == proxied.count("|")
    assert [cell.strip() for cell in hit.split("|")[1:-1]] == [
        "hit",
        "median of rounds >= 0.75 x ceiling",
        "0.81",
        "PASS",
        "hit_bench",
    ]
    assert "| 0.52 | FAIL | proxy_bench |" in proxied
