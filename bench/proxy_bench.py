"""Benchmark: how close do images through the shipped proxy get to nginx serving files?

Starts make stack's topology (nginx with docker/nginx/templates/default.conf.template in
front of Identidock's gunicorn and the renderer) on a redis-server and a scratch database
of its own (bench/own_stack.py), the ceiling (a bare WSGI app answering one recorded
cache hit, bench/ceiling_app.py) under the shipped gunicorn.conf.py, and a second nginx
serving the same PNG bytes as static files at the same /monster/<hash> paths
(bench/static_nginx.py). It warms --hashes monsters and as many avatars through the
proxy, checks that a second request of each says `X-Proxy-Cache: HIT`, and runs wrk in
interleaved rounds over:

    static            nginx serving the bytes as files: the most nginx does here
    proxy_hit         GET of a monster through the proxy, from its cache, rotating over
                      the versioned URLs the home page gives
    proxy_304         the same URLs with If-None-Match: the app's ETag of each
    proxy_avatar_hit  GET of an avatar through the proxy, /avatar/<md5 of an email>?s=80
    ceiling           the bare WSGI app, straight at gunicorn, over the monster URLs

Targets, in the same run: proxy hit >= 0.60 x static and >= 2.50 x ceiling; proxy 304
>= 0.60 x static; proxy avatar hit >= 0.90 x proxy hit. After the load, the logs say who
answered: the proxy's access log (`pc=`, its cache status, per request) and gunicorn's
(no image request may have reached the app during the runs).

Prints the table and writes it to bench/results/<date>-proxy_bench.md (bench/serving_bench.py
gathers it with the other serving benches instead); raw wrk output, the Lua scripts and
every server's log go to var/bench/proxy-<time>/. The targets are informational: the exit
status is 0 unless the harness itself failed.

    .venv/bin/python bench/proxy_bench.py [--duration 5] [--rounds 3] [--hashes 1000]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python bench/proxy_bench.py` puts bench/ on the path instead

from bench import proxy_checks, rounds, static_nginx, targets
from bench.hit_bench import avatar_paths
from bench.one_client import NO_RATE_LIMITS
from bench.own_stack import (
    bench_stack,
    log_offset,
    own_redis,
    revision_of,
    scratch_database,
)
from bench.results import command_line, result_path
from bench.servers import Server, Servers, gunicorn_tuning
from bench.visitor import bench_hashes, read_home_page, record_hit, warm
from bench.wrk import rotate_script
from scripts.stack.topology import Stack

BENCH = "proxy_bench"
STATIC = "static nginx"
TARGETS = [
    # nginx answering from its cache does what nginx does for a file, plus the cache's
    # lookup and the template's headers: most of the file's speed is within reach.
    targets.at_least("proxy_hit", 0.6, over="static", over_label=STATIC),
    # ... and several times what any Python answer costs under gunicorn.
    targets.at_least("proxy_hit", 2.5, over="ceiling", over_label="ceiling"),
    targets.at_least("proxy_304", 0.6, over="static", over_label=STATIC),
    # The same cache and the same rules answer both: the same speed, within noise.
    targets.at_least("proxy_avatar_hit", 0.9, over="proxy_hit", over_label="proxied monster hit"),
]
SAMPLE = 20  # images asked for again after the load, to see the proxy still answers


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    rounds.add_arguments(parser)
    parser.add_argument("--hashes", type=int, default=1000, help="warmed hashes to rotate over")
    arguments = parser.parse_args(argv)
    rounds.check_arguments(parser, arguments)
    if arguments.hashes < 1:
        parser.error("--hashes must be at least 1")
    return arguments


def stack_server(front: Stack, name: str) -> Server:
    """One of the stack's processes as a bench Server, for its CPU time (nginx's master
    and workers are a master and its children too). The stack stops it, not the bench."""
    process = front.processes[name]
    port = {"proxy": front.port, "identidock": front.web_port, "dnmonster": front.renderer_port}
    assert process.logs is not None, "the bench's stack logs to files"
    return Server(name, name, port[name], process.popen, process.logs)


def warmed_through_the_proxy(front: Stack, paths: list[str]) -> dict[str, requests.Response]:
    """Warm every path through the proxy, then ask again: each must be a HIT of its
    cache. Each path's second answer."""
    warm(front.url, paths)
    again = proxy_checks.fetch(front.url, paths)
    states = proxy_checks.cache_states(again)
    if states != {"200 HIT": len(paths)}:
        raise RuntimeError(f"the proxy's cache did not keep the warmed images: {dict(states)}")
    return again


def checked(
    label: str,
    server: Server,
    path: str,
    status: int,
    headers: dict[str, str] | None = None,
    proxied: bool = False,
) -> str:
    """One request of a scenario before wrk sends thousands like it (`proxied`: it must
    come from the proxy's copy)."""
    answer = proxy_checks.fetch(server.url, [path], headers)[path]
    cache = answer.headers.get(proxy_checks.PROXY_CACHE)
    if (
        answer.status_code != status
        or (status == 200 and answer.headers.get("Content-Type") != "image/png")
        or (proxied and cache != "HIT")
    ):
        raise RuntimeError(f"{label}: {answer.status_code} {answer.headers}")
    return f"{label} {answer.status_code}" + (f" {cache}" if cache else "")


def still_cached(base_url: str, paths: list[str]) -> None:
    """Before each proxied run: the proxy still answers `paths` from its copy."""
    states = proxy_checks.cache_states(proxy_checks.fetch(base_url, paths))
    if states != {"200 HIT": len(paths)}:
        raise RuntimeError(f"the proxy's cache no longer holds the warmed images: {dict(states)}")


def who_answered(
    answered: Counter[str], reached_app: int, sample: dict[str, requests.Response]
) -> list[str]:
    """What the logs and a sample after the load say about who answered the images."""
    lines = [
        "Who answered the images during the runs (warm-ups included): the proxy's access "
        f"log has {sum(answered.values()):,} image requests, by cache status: "
        + ", ".join(f"{status} {count:,}" for status, count in answered.most_common())
        + f"; gunicorn's access log has {reached_app:,} (none reach the app when the "
        "proxy's copy answers).",
        f"Asked again after the load, {len(sample)} images through the proxy: "
        + ", ".join(f"{state} {n}" for state, n in proxy_checks.cache_states(sample).items())
        + ".",
    ]
    if reached_app or set(answered) - {"HIT"}:
        lines.append(
            "WARNING: not every image came from the proxy's copy: the proxied rows measured "
            "the app too."
        )
    return lines


def run(argv: list[str] | None = None, *, result_file: bool = True) -> rounds.Section:
    """The whole bench; its own result file unless `result_file` is false."""
    arguments = parse_arguments(argv)
    directory, report = rounds.begin(BENCH)
    logs = directory / "logs"
    with ExitStack() as stack:
        redis_server = stack.enter_context(own_redis(logs))
        database_url = stack.enter_context(scratch_database("identidock_proxy_bench"))
        front = stack.enter_context(
            bench_stack(
                database_url=database_url,
                redis_url=redis_server.url,
                log_dir=logs,
                replicas=1,
                **NO_RATE_LIMITS,
            )
        )
        servers = Servers(stack, directory)
        proxy, identidock = stack_server(front, "proxy"), stack_server(front, "identidock")
        servers.started += [proxy, identidock, stack_server(front, "dnmonster")]

        site = read_home_page(front.url, revision_of(front))
        paths = site.monster_paths(bench_hashes(arguments.hashes))
        avatars = avatar_paths(arguments.hashes)
        answers = warmed_through_the_proxy(front, paths + avatars)
        etags = {path: answers[path].headers["ETag"] for path in paths}
        png_bytes = record_hit(front.web_url, paths[0], directory / "ceiling.json")
        ceiling = servers.ceiling(directory / "ceiling.json")
        static = static_nginx.start(directory / "static", {p: answers[p].content for p in paths})
        stack.callback(static.stop)
        servers.started.append(static)

        print(
            f"warmed {len(paths):,} monsters and {len(avatars):,} avatars through the proxy; "
            "checked one request of each: "
            + ", ".join(
                [
                    checked("static", static, paths[0], 200),
                    checked("proxy hit", proxy, paths[1], 200, proxied=True),
                    checked(
                        "proxy 304",
                        proxy,
                        paths[2],
                        304,
                        {"If-None-Match": etags[paths[2]]},
                        proxied=True,
                    ),
                    checked("proxy avatar hit", proxy, avatars[0], 200, proxied=True),
                    checked("ceiling", ceiling, paths[3], 200),
                ]
            )
        )
        hits = rotate_script([("GET", path, None, None) for path in paths])
        avatar_hits = rotate_script([("GET", path, None, None) for path in avatars])
        not_modified = rotate_script([("GET", p, {"If-None-Match": etags[p]}, None) for p in paths])
        scenarios = [
            rounds.Scenario(
                "static", "static nginx (the same bytes as files)", static, lambda: hits
            ),
            rounds.Scenario("proxy_hit", "proxy hit", proxy, lambda: hits, cached=True),
            rounds.Scenario(
                "proxy_304", "proxy 304 (If-None-Match)", proxy, lambda: not_modified, cached=True
            ),
            rounds.Scenario(
                "proxy_avatar_hit",
                "proxy avatar hit (/avatar/<md5>?s=80)",
                proxy,
                lambda: avatar_hits,
                cached=True,
            ),
            rounds.Scenario("ceiling", "ceiling (bare WSGI app, direct)", ceiling, lambda: hits),
        ]
        proxy_log, app_log = proxy.logs[0], identidock.logs[0]
        proxy_start, app_start = log_offset(proxy_log), log_offset(app_log)
        runner = rounds.Runner(
            arguments,
            directory,
            servers,
            database_url,
            ensure_warm=lambda: still_cached(front.url, [paths[0], avatars[0]]),
        )
        results = runner.measure(scenarios)
        sample = proxy_checks.fetch(front.url, paths[:SAMPLE] + avatars[:SAMPLE])
        answered = proxy_checks.proxy_cache_statuses(proxy_log, after=proxy_start)
        reached_app = proxy_checks.image_requests(app_log, after=app_start)
        workers = {server.name: len(server.workers()) for server in servers.started}

    verdicts = targets.judge(TARGETS, results)
    tuning = ", ".join(f"{k}={v}" for k, v in gunicorn_tuning().items()) or "none"
    lines = [
        f"# {BENCH}, {result_path(BENCH).stem[:10]}",
        "",
        f"`{command_line()}`",
        "",
        f"wrk -t{arguments.threads} -c{arguments.connections} -d{arguments.duration}s, "
        f"{arguments.rounds} interleaved round(s), after {arguments.warmup} s of warm-up per "
        "server. make stack's topology (the shipped proxy template in front of Identidock's "
        "gunicorn and the renderer) on a redis-server and a scratch database of the bench's "
        "own; the ceiling under gunicorn.conf.py; processes under each master: "
        + ", ".join(f"{name} {count}" for name, count in workers.items())
        + f" (GUNICORN_* set: {tuning}).",
        f"{len(paths):,} warmed monsters, URLs /monster/<hash>{site.monster_query}, and "
        f"{len(avatars):,} avatars; the static nginx answers each monster's bytes as a "
        f"file, the ceiling one recorded hit's {png_bytes:,} PNG bytes and headers.",
        "",
        "## Through the proxy against nginx serving files",
        "",
        *targets.table([(s.key, s.label) for s in scenarios], results, "static", verdicts),
        "",
        targets.summary(verdicts),
        "",
        *who_answered(answered, reached_app, sample),
        "Audit rows written during: "
        + ", ".join(f"{s.key} {results[s.key].audit_rows:,}" for s in scenarios if s.cached)
        + ".",
    ]
    cpu_note = (
        "CPU us/req here counts both nginx (masters and workers) with the gunicorns: every "
        "server on the machine, whichever one the row measures."
    )
    section = report.close(lines, runner, verdicts, result_file=result_file, notes=(cpu_note,))
    if not arguments.keep_access_logs:  # the proxy's log holds a line per request
        for log in (proxy_log, static.logs[0].parent / "static-nginx.access.log"):
            log.unlink(missing_ok=True)
    return section


if __name__ == "__main__":
    run()  # exits 0 when the harness ran: a missed target is a finding, not an error
