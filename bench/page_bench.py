"""Benchmark: what the home page costs above Django's own floor, in the same run.

Starts the renderer and Identidock under the shipped gunicorn.conf.py on 127.0.0.1
(bench/servers.py) and runs wrk in interleaved rounds over:

    django_floor  GET /healthz: Django's whole request cycle and middleware around a view
                  that does nothing, the least any request Django answers costs
    page_get      GET / (a first visit: no cookie)
    page_post     POST / with the CSRF cookie and token, rotating over --names names

The page is Django's to answer, so its targets are ratios to that floor, measured in the
same run (not to a bare WSGI app): page GET >= `GET_OVER_FLOOR` x floor, page POST >=
`POST_OVER_FLOOR` x floor.

Prints the table and writes it to bench/results/<date>-page_bench.md (bench/serving_bench.py
gathers it with the other serving benches instead); raw wrk output goes to
var/bench/page-<time>/. The targets are informational: the exit status is 0 unless the
harness itself failed.

    .venv/bin/python bench/page_bench.py [--duration 5] [--rounds 3] [--names 1000]
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import quote_plus

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python bench/page_bench.py` puts bench/ on the path instead

from bench import rounds, targets
from bench.servers import (
    REVISION,
    start_stack,
)
from bench.visitor import check, read_home_page
from bench.wrk import rotate_script

BENCH = "page_bench"
FLOOR = "django_floor"
GET_OVER_FLOOR = 0.8  # the page GET: Django's floor plus a CSRF token and the page
POST_OVER_FLOOR = 0.5  # the POST: the floor plus the form, a rate-limit token and the page
TARGETS = [
    targets.at_least("page_get", GET_OVER_FLOOR, over=FLOOR, over_label="Django floor"),
    targets.at_least("page_post", POST_OVER_FLOOR, over=FLOOR, over_label="Django floor"),
]


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    rounds.add_arguments(parser)
    parser.add_argument("--names", type=int, default=1000, help="names the POSTs rotate over")
    arguments = parser.parse_args(argv)
    rounds.check_arguments(parser, arguments)
    if arguments.names < 1:
        parser.error("--names must be at least 1")
    return arguments


def run(argv: list[str] | None = None, *, result_file: bool = True) -> rounds.Section:
    """The whole bench; its own result file unless `result_file` is false."""
    arguments = parse_arguments(argv)
    directory, report = rounds.begin(BENCH)
    with ExitStack() as stack:
        started = start_stack(stack, directory)
        servers, identidock = started.servers, started.identidock
        database_url = started.database_url
        site = read_home_page(identidock.url, REVISION)
        post_headers = {
            "Cookie": site.csrf_cookie,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        post_bodies = [
            f"csrfmiddlewaretoken={site.csrf_token}&name={quote_plus(f'Bench Visitor {n:04d}')}"
            for n in range(arguments.names)
        ]
        checked = [
            check("Django floor", requests.get(identidock.url + "/healthz", timeout=10), 200),
            check("page GET", requests.get(identidock.url + "/", timeout=10), 200),
            check(
                "page POST",
                requests.post(
                    identidock.url + "/", data=post_bodies[0], headers=post_headers, timeout=10
                ),
                200,
            ),
        ]
        print("checked one request of each: " + ", ".join(checked))
        floor = rotate_script([("GET", "/healthz", None, None)])
        page_get = rotate_script([("GET", "/", None, None)])
        page_post = rotate_script([("POST", "/", post_headers, body) for body in post_bodies])
        scenarios = [
            rounds.Scenario(FLOOR, "Django floor (GET /healthz)", identidock, lambda: floor),
            rounds.Scenario("page_get", "page GET", identidock, lambda: page_get),
            rounds.Scenario("page_post", "page POST", identidock, lambda: page_post),
        ]
        runner = rounds.Runner(arguments, directory, servers, database_url)
        results = runner.measure(scenarios)
        heading = report.heading(arguments, servers, identidock)

    verdicts = targets.judge(TARGETS, results)
    lines = [
        *heading,
        f"The POSTs rotate over {arguments.names:,} names, with the CSRF cookie and token "
        "of one first visit.",
        "",
        "## The page against Django's floor",
        "",
        *targets.table([(s.key, s.label) for s in scenarios], results, FLOOR, verdicts, "floor"),
        "",
        targets.summary(verdicts),
    ]
    return report.close(lines, runner, verdicts, result_file=result_file)


if __name__ == "__main__":
    run()  # exits 0 when the harness ran: a missed target is a finding, not an error
