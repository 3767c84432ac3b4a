"""bench/serve_bench.py: the parts that need no servers and no wrk."""

from __future__ import annotations

from collections import Counter

import pytest

from bench import serve_bench

HASH = "ab" * 32
PAGE = """
<img class="brand__mark" src="/static/monsters/brand-40.abc.png" width="40">
<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="tok123">
<img src="/monster/{hash}{query}" srcset="/monster/{hash}?size=160 2x" width="80">
"""


def _page(query: str) -> str:
    return PAGE.format(hash=HASH, query=query)


def _wrk_output(requests: int, seconds: float, latencies: dict[int, int]) -> str:
    histogram = " ".join(f"{value}:{count}" for value, count in latencies.items())
    return (
        "Running 5s test @ http://127.0.0.1:1\n"
        f"serve_bench: requests={requests} duration_us={int(seconds * 1e6)} "
        "connect=0 read=1 write=0 status=2 timeout=0\n"
        f"serve_bench: latency_us {histogram}\n"
    )


def test_a_page_without_a_revision_in_its_urls_gets_the_computed_one():
    site = serve_bench.parse_home_page(_page("?size=80"), "cookie123", "identidock-r1")
    assert site.monster_query == "?size=80&v=identidock-r1"
    assert (site.csrf_cookie, site.csrf_token) == ("csrftoken=cookie123", "tok123")


def test_a_page_with_a_revision_in_its_urls_keeps_its_own():
    site = serve_bench.parse_home_page(_page("?size=80&amp;v=builtin-r7"), "c", "identidock-r1")
    assert site.monster_query == "?size=80&v=builtin-r7"


def test_a_page_without_a_monster_or_a_csrf_cookie_stops_the_bench():
    with pytest.raises(RuntimeError, match="no <img src=/monster/"):
        serve_bench.parse_home_page("<img src='/static/x.png'>", "c", "r")
    with pytest.raises(RuntimeError, match="CSRF"):
        serve_bench.parse_home_page(_page("?size=80"), None, "r")


def test_rounds_merge_into_one_rate_and_percentiles_over_every_request():
    measured = serve_bench.Measured()
    measured.runs.append(serve_bench.WrkRun.parse(_wrk_output(1000, 5.0, {1000: 99, 9000: 1})))
    measured.runs.append(serve_bench.WrkRun.parse(_wrk_output(3000, 5.0, {2000: 100})))
    assert measured.rate == pytest.approx(400.0)
    assert measured.percentile_ms(50) == pytest.approx(2.0)
    assert measured.percentile_ms(99) == pytest.approx(2.0)
    assert measured.percentile_ms(100) == pytest.approx(9.0)
    assert measured.errors == 6  # a read error and two bad statuses in each run


def test_wrk_output_without_our_results_is_an_error():
    with pytest.raises(RuntimeError, match="wrk printed no results"):
        serve_bench.WrkRun.parse("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_etags_and_bodies_become_valid_lua_strings():
    assert serve_bench._lua('"0123abcd"') == '"\\"0123abcd\\""'
    assert serve_bench._lua({"If-None-Match": '"x"'}) == '{["If-None-Match"] = "\\"x\\""}'
    with pytest.raises(ValueError):
        serve_bench._lua("line\nbreak")


def test_fresh_ids_take_a_prefix_that_leaves_room_for_thread_and_counter():
    # 40 hex digits of prefix + 8 of thread + 16 of counter: a 64-hex hash.
    script = serve_bench.fresh_script("f" * 40, "?size=80&v=r")
    assert 'prefix = "' + "f" * 40 + '"' in script
    with pytest.raises(ValueError):
        serve_bench.fresh_script("f" * 64, "?size=80")


def test_each_target_is_judged_beside_its_row():
    def measured(rate: float, p50_us: int, p99_us: int) -> serve_bench.Measured:
        run = serve_bench.WrkRun(
            requests=int(rate),
            seconds=1.0,
            errors={},
            latency_us=Counter({p50_us: 98, p99_us: 2}),
        )
        return serve_bench.Measured(runs=[run])

    results = {
        "ceiling": measured(10_000, 1000, 2000),
        "hit": measured(9_000, 1000, 5000),  # 0.9 of the ceiling, but a long tail
        "miss": measured(100, 1000, 2000),
        "renderer": measured(1_000, 1000, 2000),
    }
    scenarios = [serve_bench.Scenario(key, key, None, lambda: "") for key in results]
    table = "\n".join(serve_bench.render_table(scenarios, results))
    assert ">= 0.80 x ceiling: 0.90 PASS" in table
    assert "p99 <= 3 x p50: 5.0 FAIL (the ceiling's own: 2.0)" in table
    assert ">= 0.50 x renderer: 0.10 FAIL" in table


def test_cpu_time_is_read_from_proc_and_counted_per_request():
    import os

    before = serve_bench._cpu_seconds(os.getpid())
    deadline = serve_bench.time.process_time() + 0.05
    while serve_bench.time.process_time() < deadline:
        pass
    assert serve_bench._cpu_seconds(os.getpid()) > before
    run = serve_bench.WrkRun.parse(_wrk_output(2000, 5.0, {1000: 2000}))
    run.server_cpu_seconds = 1.0
    assert serve_bench.Measured(runs=[run]).cpu_us == pytest.approx(500.0)


def test_django_bounds_follow_from_the_floor_and_the_run_cpu_per_request():
    def measured(cpu_us: float) -> serve_bench.Measured:
        run = serve_bench.WrkRun(
            requests=1000, seconds=1.0, errors={}, latency_us=Counter({1000: 1000})
        )
        run.server_cpu_seconds = cpu_us * 1000 / 1e6
        return serve_bench.Measured(runs=[run])

    results = {
        "ceiling": measured(200),
        "hit": measured(250),
        "hit_redis": measured(350),  # a Redis round trip: 100 us
        "django_floor": measured(500),
        "renderer": measured(300),
    }
    text = "\n".join(serve_bench.django_bound_lines(results))
    assert "the floor's 500 us, 0.40 x ceiling" in text
    assert "page GET: at most 0.40 x ceiling" in text
    assert "one Redis round trip (100 us): at most 0.33 x ceiling" in text
    assert "the renderer's 300 us: at most 0.38 x renderer" in text
    unmeasured = "\n".join(serve_bench.django_bound_lines(results, redis_trip_measured=False))
    assert "round trip (not measured without --redis-only-env): less than 0.40" in unmeasured


def test_no_bounds_without_a_floor_measured():
    assert serve_bench.django_bound_lines({}) == []


def test_the_bare_miss_is_judged_against_the_renderer():
    def measured(rate: int, cpu_us: float) -> serve_bench.Measured:
        run = serve_bench.WrkRun(
            requests=rate, seconds=1.0, errors={}, latency_us=Counter({1000: rate})
        )
        run.server_cpu_seconds = cpu_us * rate / 1e6
        return serve_bench.Measured(runs=[run])

    results = {"renderer": measured(4_000, 450), "miss_floor": measured(1_200, 1_400)}
    [line] = serve_bench.miss_floor_lines(results)
    assert "1,200 req/s, 0.30 x renderer, 1,400 us of CPU" in line
    assert serve_bench.miss_floor_lines({"renderer": measured(4_000, 450)}) == []
