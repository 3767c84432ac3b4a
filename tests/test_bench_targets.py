"""The serving benches' verdicts: ratios to a ceiling measured in the same run, the hit's
latency tail, the miss's bound through Django, and the workers' memory."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from bench import targets
from bench.miss_bench import TARGETS as MISS_TARGETS
from bench.miss_bench import django_bound
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


def test_a_ratio_is_taken_over_the_scenario_the_target_names():
    [verdict] = targets.judge(
        MISS_TARGETS[1:],  # the miss, over the renderer
        {"ceiling": measured(10_000), "renderer": measured(1_000), "miss": measured(600)},
    )
    assert (verdict.scenario, verdict.value, verdict.passed) == ("miss", pytest.approx(0.6), True)


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


def test_the_hits_tail_is_judged_against_its_own_p50_with_the_ceilings_beside_it():
    target = targets.tail_within("hit", 3.0, reference="ceiling")
    results = {
        "ceiling": measured(10_000, p50_us=1000, p99_us=2000),
        "hit": measured(9_000, p50_us=1000, p99_us=5000),
    }
    [verdict] = targets.judge([target], results)
    assert (verdict.value, verdict.passed) == (pytest.approx(5.0), False)
    assert "2.0" in verdict.note  # the ceiling's own tail


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


def test_a_miss_through_django_is_bounded_by_the_floor_plus_the_renderer():
    results = {"django_floor": measured(2_000, cpu_us=500), "renderer": measured(3_000, cpu_us=300)}
    assert django_bound(results) == pytest.approx(300 / 800)


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
