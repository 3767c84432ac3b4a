"""Benchmark: what a cache miss costs against the renderer it waits on, in the same run.

Starts the renderer, Identidock, the ceiling (a bare WSGI app answering one recorded
cache hit) and the bare miss (a bare WSGI app that asks the renderer and SETs the bytes in
Redis, nothing else: bench/miss_floor_app.py) under the shipped gunicorn.conf.py on
127.0.0.1 (bench/servers.py), and runs wrk in interleaved rounds over:

    ceiling    the bare WSGI app
    renderer   the renderer's own gunicorn, a new id every request
    miss       Identidock, a new hash every request (cache GET, rate-limit token and
               single-flight lock, renderer, SET with the audit intent, audit row)
    bare_miss  the bare miss app, a new hash every request (renderer, SET)

Targets: renderer >= 0.40 x ceiling; miss >= 0.60 x the bare miss (the most a miss
answered in Python reaches here). Beside them, for reading the miss: its share of the
renderer, the bare miss's, and the CPU per request of each.

Prints the table and writes it to bench/results/<date>-miss_bench.md (bench/serving_bench.py
gathers it with the other serving benches instead); raw wrk output goes to
var/bench/miss-<time>/. The targets are informational: the exit status is 0 unless the
harness itself failed.

    .venv/bin/python bench/miss_bench.py [--duration 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import secrets
import sys
from contextlib import ExitStack
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python bench/miss_bench.py` puts bench/ on the path instead

from bench import rounds, targets
from bench.servers import (
    REVISION,
    start_stack,
)
from bench.visitor import SIZE, bench_hashes, check, read_home_page, record_hit, warm
from bench.wrk import fresh_script, rotate_script

BENCH = "miss_bench"
TARGETS = [
    targets.at_least("renderer", 0.4, over="ceiling"),
    # The bare miss asks the renderer and SETs the bytes, nothing else: what a miss costs
    # beyond it is Django and our checks, the part this code can change.
    targets.at_least("miss", 0.6, over="bare_miss", over_label="bare miss"),
]


def reading_lines(results: targets.Results) -> list[str]:
    """The miss and the bare miss against the renderer, and what each costs in CPU."""
    miss, bare = results["miss"], results["bare_miss"]
    return [
        f"- the miss: {targets.ratio(results, 'miss', 'renderer'):.2f} x renderer; "
        f"{miss.audit_rows:,} audit rows written for the {miss.requests:,} replies wrk "
        "counted.",
        f"- the bare miss (renderer and SET, no Django, no checks): {bare.rate:,.0f} req/s, "
        f"{targets.ratio(results, 'bare_miss', 'renderer'):.2f} x renderer, "
        f"{bare.cpu_us:,.0f} us of CPU (the renderer's included): the most a miss reaches "
        "here without Django.",
        f"- CPU per request, the renderer's included: the miss {miss.cpu_us:,.0f} us, the "
        f"bare miss {bare.cpu_us:,.0f} us ({bare.cpu_us / miss.cpu_us:.2f} x); req/s follows "
        "CPU here, every server sharing the same cores.",
    ]


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    rounds.add_arguments(parser)
    arguments = parser.parse_args(argv)
    rounds.check_arguments(parser, arguments)
    return arguments


def run(argv: list[str] | None = None, *, result_file: bool = True) -> rounds.Section:
    """The whole bench; its own result file unless `result_file` is false."""
    arguments = parse_arguments(argv)
    directory, report = rounds.begin(BENCH)
    with ExitStack() as stack:
        started = start_stack(stack, directory)
        servers, renderer, identidock = started.servers, started.renderer, started.identidock
        database_url, redis_url = started.database_url, started.redis_url
        site = read_home_page(identidock.url, REVISION)
        [recorded] = site.monster_paths(bench_hashes(1))
        warm(identidock.url, [recorded])
        png_bytes = record_hit(identidock.url, recorded, directory / "ceiling.json")
        ceiling = servers.ceiling(directory / "ceiling.json")
        bare_miss = servers.bare_miss(renderer.url, redis_url, SIZE)

        def new() -> str:
            return f"/monster/{secrets.token_hex(32)}"

        checked = [
            check("ceiling", requests.get(ceiling.url + recorded, timeout=10), 200),
            check(
                "renderer",
                requests.get(renderer.url + new() + f"?size={SIZE}", timeout=10),
                200,
                Content_Type="image/png",
            ),
            check(
                "miss",
                requests.get(identidock.url + new() + site.monster_query, timeout=10),
                200,
                X_Cache="MISS",
            ),
            check(
                "bare miss",
                requests.get(bare_miss.url + new() + f"?size={SIZE}", timeout=10),
                200,
                Content_Type="image/png",
            ),
        ]
        print("checked one request of each: " + ", ".join(checked))
        hit = rotate_script([("GET", recorded, None, None)])

        def fresh(query: str) -> str:
            return fresh_script(secrets.token_hex(20), query)

        scenarios = [
            rounds.Scenario("ceiling", "ceiling (bare WSGI app)", ceiling, lambda: hit),
            rounds.Scenario(
                "renderer", "renderer direct (new ids)", renderer, lambda: fresh(f"?size={SIZE}")
            ),
            rounds.Scenario(
                "miss", "miss (new hashes)", identidock, lambda: fresh(site.monster_query)
            ),
            rounds.Scenario(
                "bare_miss", "bare miss (new hashes)", bare_miss, lambda: fresh(f"?size={SIZE}")
            ),
        ]
        runner = rounds.Runner(arguments, directory, servers, database_url)
        results = runner.measure(scenarios)
        heading = report.heading(arguments, servers, identidock)

    verdicts = targets.judge(TARGETS, results)
    lines = [
        *heading,
        f"Monster URLs /monster/<new hash>{site.monster_query}; the renderer and the bare miss "
        f"are asked for ?size={SIZE}; the ceiling answers a recorded hit's {png_bytes:,} PNG "
        "bytes.",
        "",
        "## Misses against the bare miss and the renderer",
        "",
        *targets.table([(s.key, s.label) for s in scenarios], results, "ceiling", verdicts),
        "",
        targets.summary(verdicts),
        "",
        *reading_lines(results),
    ]
    return report.close(lines, runner, verdicts, result_file=result_file)


if __name__ == "__main__":
    run()  # exits 0 when the harness ran: a missed target is a finding, not an error
