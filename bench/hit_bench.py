"""Benchmark: how close does a cached monster get to what gunicorn itself can serve?

Starts the renderer, Identidock and the ceiling (a bare WSGI app answering one recorded
cache hit of Identidock's: the same PNG bytes and headers) under the shipped
gunicorn.conf.py on 127.0.0.1 (bench/servers.py), warms --hashes monsters over HTTP,
recording each ETag, and runs wrk in interleaved rounds over:

    ceiling      the bare WSGI app, rotating over the same paths
    hit          GET of a cached monster, rotating over the versioned URLs
    hit_redis    the same with the in-process tier off (--redis-only-env NAME=VALUE
                 starts a second Identidock with that environment; without it, the same
                 server again, marked "(same server)")
    not_modified the same URLs with If-None-Match: each path's own ETag
    avatar_hit   GET of a cached avatar, /avatar/<md5 of an email>?s=80, rotating

Targets, against the ceiling measured in the same run: hit >= 0.75 x ceiling as the
median of the per-round ratios (three rounds by default), with p99/p50 at most 1.5 x the
ceiling's own p99/p50; 304 >= 0.80 x ceiling; and, informational, hit_redis >= 0.50 x
ceiling and the avatar hit >= 0.90 x the monster hit (the same function answers both).
Then VmRSS of every Identidock worker before and after --rss-hits hits: <= 80 MB a
worker, flat within 5 %.

Prints the table and writes it to bench/results/<date>-hit_bench.md (bench/serving_bench.py
gathers it with the other serving benches instead); raw wrk output, the Lua scripts and
the servers' error logs go to var/bench/hit-<time>/. The targets are informational: the
exit status is 0 unless the harness itself failed.

    .venv/bin/python bench/hit_bench.py [--duration 5] [--rounds 3] [--hashes 1000]
        [--rss-hits 100000] [--rss-max-seconds 100] [--redis-only-env NAME=VALUE]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import sys
from contextlib import ExitStack
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python bench/hit_bench.py` puts bench/ on the path instead

from bench import rounds, targets, worker_rss
from bench.results import code_block
from bench.servers import (
    REVISION,
    redis_client,
    start_stack,
)
from bench.visitor import WarmSet, bench_hashes, check, read_home_page, record_hit
from bench.wrk import rotate_script

BENCH = "hit_bench"
CACHED = ("hit", "hit_redis", "not_modified", "avatar_hit")
TARGETS = [
    # Per round, then the median: the hit and the ceiling share each round's load, and
    # one round spoiled by a neighbour does not decide the verdict.
    targets.median_of_rounds("hit", 0.75, over="ceiling"),
    # The ceiling's own tail is gunicorn's and the machine's; only what the hit adds to
    # it is ours.
    targets.tail_relative("hit", 1.5, reference="ceiling"),
    targets.at_least("hit_redis", 0.5, over="ceiling"),
    targets.at_least("not_modified", 0.8, over="ceiling"),
    # An avatar is answered by the same function as a monster: the same speed, within
    # noise (the keyed id is one HMAC more, once per hash and process).
    targets.at_least("avatar_hit", 0.9, over="hit", over_label="monster hit"),
]


def avatar_paths(count: int) -> list[str]:
    """Avatar URLs as a Gravatar client writes them: the MD5 of an email, `s=80`."""
    emails = (f"bench-{n}@example.com" for n in range(count))
    return [f"/avatar/{hashlib.md5(email.encode()).hexdigest()}?s=80" for email in emails]  # noqa: S324 - Gravatar's id, not a secret


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    rounds.add_arguments(parser)
    parser.add_argument("--hashes", type=int, default=1000, help="warmed hashes to rotate over")
    parser.add_argument("--rss-hits", type=int, default=100_000)
    parser.add_argument(
        "--rss-max-seconds", type=int, default=100, help="bound on the RSS run's duration"
    )
    parser.add_argument(
        "--redis-only-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="environment that turns the in-process cache tier off, for 'hit, Redis only'",
    )
    arguments = parser.parse_args(argv)
    rounds.check_arguments(parser, arguments)
    if min(arguments.hashes, arguments.rss_hits) < 1:
        parser.error("--hashes and --rss-hits must be at least 1")
    for item in arguments.redis_only_env:
        if "=" not in item:
            parser.error(f"--redis-only-env takes NAME=VALUE, not {item!r}")
    return arguments


def run(argv: list[str] | None = None, *, result_file: bool = True) -> rounds.Section:
    """The whole bench; its own result file unless `result_file` is false."""
    arguments = parse_arguments(argv)
    directory, report = rounds.begin(BENCH)
    with ExitStack() as stack:
        started = start_stack(stack, directory)
        servers, identidock = started.servers, started.identidock
        environment, database_url = started.environment, started.database_url
        redis_url = started.redis_url
        redis_only = identidock
        if arguments.redis_only_env:
            extra = dict(item.split("=", 1) for item in arguments.redis_only_env)
            redis_only = servers.identidock(environment | extra, "identidock-redis-only")
        site = read_home_page(identidock.url, REVISION)
        paths = site.monster_paths(bench_hashes(arguments.hashes))
        avatars = avatar_paths(arguments.hashes)
        cache = WarmSet(identidock.url, paths + avatars, redis_client(redis_url))
        etags = cache.warm()
        png_bytes = record_hit(identidock.url, paths[0], directory / "ceiling.json")
        ceiling = servers.ceiling(directory / "ceiling.json")

        checked = [
            check("ceiling", requests.get(ceiling.url + paths[0], timeout=10), 200),
            check("hit", requests.get(identidock.url + paths[1], timeout=10), 200, X_Cache="HIT"),
            check(
                "hit (Redis only)",
                requests.get(redis_only.url + paths[2], timeout=10),
                200,
                X_Cache="HIT",
            ),
            check(
                "304",
                requests.get(
                    identidock.url + paths[3],
                    headers={"If-None-Match": etags[paths[3]]},
                    timeout=10,
                ),
                304,
            ),
        ]
        print(f"warmed {len(paths):,} monsters; checked one request of each: {', '.join(checked)}")
        hits = rotate_script([("GET", path, None, None) for path in paths])
        avatar_hits = rotate_script([("GET", path, None, None) for path in avatars])
        not_modified = rotate_script([("GET", p, {"If-None-Match": etags[p]}, None) for p in paths])
        same = "" if redis_only is not identidock else " (same server)"
        scenarios = [
            rounds.Scenario("ceiling", "ceiling (bare WSGI app)", ceiling, lambda: hits),
            rounds.Scenario("hit", "hit", identidock, lambda: hits, cached=True),
            rounds.Scenario(
                "hit_redis", "hit, Redis only" + same, redis_only, lambda: hits, cached=True
            ),
            rounds.Scenario(
                "not_modified", "304 (If-None-Match)", identidock, lambda: not_modified, cached=True
            ),
            rounds.Scenario(
                "avatar_hit",
                "avatar hit (/avatar/<md5>?s=80)",
                identidock,
                lambda: avatar_hits,
                cached=True,
            ),
        ]
        runner = rounds.Runner(arguments, directory, servers, database_url, cache.ensure_warm)
        results = runner.measure(scenarios)

        cache.ensure_warm()
        numbers = itertools.count(1)
        rss, rss_notes = worker_rss.measure(
            identidock,
            lambda seconds: runner.wrk(identidock, hits, seconds, f"rss-hits-{next(numbers)}"),
            hits=arguments.rss_hits,
            max_seconds=arguments.rss_max_seconds,
            rate=results["hit"].rate,
        )
        heading = report.heading(arguments, servers, identidock)

    verdicts = targets.judge(TARGETS, results) + rss.verdicts()
    audited = ", ".join(f"{key} {results[key].audit_rows:,}" for key in CACHED)
    lines = [
        *heading,
        f"{len(paths):,} warmed monsters, URLs /monster/<hash>{site.monster_query}; the "
        f"ceiling answers the recorded hit's {png_bytes:,} PNG bytes and headers.",
        "",
        "## Hits against the ceiling",
        "",
        *targets.table([(s.key, s.label) for s in scenarios], results, "ceiling", verdicts),
        "",
        targets.summary(verdicts),
        "",
        f"Audit rows (one per cache miss) written during: {audited}.",
    ]
    if any(results[key].audit_rows for key in CACHED):
        lines.append(
            "WARNING: hits were misses: something emptied the bench's Redis database during "
            "the run, so those rows measured misses too."
        )
    if cache.rewarmed:
        lines.append(
            f"NOTE: something else emptied the bench's Redis database {cache.rewarmed} "
            "time(s); the bench warmed it again each time. SERVE_BENCH_REDIS_URL picks another."
        )
    lines += ["", code_block(runner.rounds), "", "## Worker memory under hits", ""]
    lines += [*rss.lines(), *rss_notes]
    lines += ["", *report.footing()]
    report.finish(lines, arguments.keep_access_logs, result_file=result_file)
    return rounds.Section(BENCH, lines, verdicts)


if __name__ == "__main__":
    run()  # exits 0 when the harness ran: a missed target is a finding, not an error
