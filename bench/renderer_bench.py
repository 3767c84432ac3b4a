"""Benchmark: the renderer over HTTP against a ceiling, and render() in-process.

Starts, under the same gunicorn.conf.py (its defaults: gthread, 2 x cores + 1 workers,
4 threads, keep-alive), each on a free port on 127.0.0.1:

- the ceiling: bench/renderer_ceiling.py, a bare WSGI app answering one fixed 80 px
  monster PNG (drawn by this checkout's renderer);
- this checkout's renderer, `renderer.wsgi:app`;
- with --baseline REV, the renderer as it was at REV (`git archive` of renderer
  into a temporary directory), so that before and after are measured in one run.

All of them run with GUNICORN_MAX_REQUESTS=0: recycling a worker every ~1,000 requests
would restart workers several times a second at these rates, which would measure imports
rather than requests. Then `wrk -t2 -c32` asks each for --seconds, in --rounds that
alternate between the servers so that all see the same drift in the load of a shared
machine; a Lua script makes every request's id new (a per-run token, the wrk thread and a
counter), so nothing can be served from a cache. It prints req/s, p50 and p99 latency and
the ratio of each renderer's req/s to the ceiling's (medians over the rounds; target
>= 0.4), then render()'s time per call in-process for new ids at 16, 80 and 512 px, and
the mean PNG size, for each renderer tree. Needs `wrk` (apt-get install wrk):

    .venv/bin/python bench/renderer_bench.py [--baseline 7b2ddb7] [--seconds 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.results import recorded  # noqa: E402
from bench.server_processes import medians, ratios_to_ceiling, wrk_run
from bench.server_processes import stop as _stop  # noqa: E402

PYTHON = sys.executable
TARGET_RATIO = 0.4
CEILING_ID = "renderer-bench-ceiling"
CEILING_SIZE = 80
IN_PROCESS_SIZES = (16, 80, 512)

WRK_SCRIPT = """
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  counter = 0
end

function request()
  counter = counter + 1
  return wrk.format("GET", "/monster/%(token)s-" .. tid .. "-" .. counter .. "?size=%(size)d")
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d\\n", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def _free_port() -> int:
    from scripts.stack.ports import free_port  # the project's one helper; ROOT is on the path

    return free_port()


def _start(tree: Path, module: str, extra_env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "GUNICORN_MAX_REQUESTS": "0", "PYTHONPATH": str(tree), **extra_env}
    env.pop("GUNICORN_CONTROL_SOCKET", None)
    command = [
        PYTHON,
        "-m",
        "gunicorn",
        "-c",
        str(ROOT / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--chdir",
        str(tree),
        module,
    ]
    # The config logs every request to stdout, as in production: keep it out of the figures.
    process = subprocess.Popen(
        command, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{module} in {tree} exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/monster/warm-up", timeout=1):
                return process, url
        except OSError:
            time.sleep(0.1)
    _stop(process)
    raise SystemExit(f"{module} did not start within 20 s")


def _in_process(tree: Path, number: int) -> dict:
    """render() timings and PNG sizes, measured in a child that imports `tree`'s renderer."""
    output = subprocess.run(
        [PYTHON, __file__, "--in-process-child", str(number)],
        env={**os.environ, "PYTHONPATH": str(tree)},
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(output.stdout)


def _in_process_child(number: int) -> None:
    from renderer import render

    results = {}
    token = secrets.token_hex(4)
    for size in IN_PROCESS_SIZES:
        calls = number if size < 256 else max(1, number // 10)
        ids = iter([f"{token}-{size}-{n}" for n in range(calls * 5)])

        def one_call(ids: Iterator[str] = ids, size: int = size) -> bytes:
            return render(next(ids), size)

        # CPU time, best of five: the least disturbed by whatever else the machine is doing.
        timer = timeit.Timer(one_call, timer=time.process_time)
        best = min(timer.repeat(number=calls, repeat=5))
        sizes = [len(render(f"png-size-{n}", size)) for n in range(200)]
        results[str(size)] = {"ms": best / calls * 1000, "bytes": statistics.mean(sizes)}
    json.dump(results, sys.stdout)


def _baseline_tree(revision: str, directory: Path) -> Path:
    tree = directory / "baseline"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "archive", revision, "monsters/__init__.py", "renderer"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", metavar="REV", help="also measure the renderer at REV")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--size", type=int, default=CEILING_SIZE)
    parser.add_argument("--calls", type=int, default=2000, help="in-process calls per timing")
    parser.add_argument("--in-process-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process_child is not None:
        _in_process_child(args.in_process_child)
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    sys.path.insert(0, str(ROOT))
    from renderer import render

    processes: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        ceiling_png = directory / "ceiling.png"
        ceiling_png.write_bytes(render(CEILING_ID, CEILING_SIZE))
        script = directory / "new_ids.lua"
        script.write_text(WRK_SCRIPT % {"token": secrets.token_hex(4), "size": args.size})
        trees = {"renderer": ROOT}
        if args.baseline:
            trees = {f"baseline {args.baseline}": _baseline_tree(args.baseline, directory), **trees}
        try:
            servers = {
                "ceiling": _start(
                    ROOT, "bench.renderer_ceiling:app", {"RENDERER_CEILING_PNG": str(ceiling_png)}
                )
            }
            processes.append(servers["ceiling"][0])
            for label, tree in trees.items():
                servers[label] = _start(tree, "renderer.wsgi:app", {})
                processes.append(servers[label][0])
            print(
                f"gunicorn -c gunicorn.conf.py (GUNICORN_MAX_REQUESTS=0) for each; wrk "
                f"-t{args.threads} -c{args.connections} -d{args.seconds:g}s, new ids, "
                f"size {args.size}, {args.rounds} rounds; ceiling: one {CEILING_SIZE} px PNG "
                f"of {ceiling_png.stat().st_size} bytes"
            )
            for process, url in servers.values():  # warm up every worker's caches
                wrk_run(
                    url,
                    process,
                    script,
                    seconds=1,
                    threads=args.threads,
                    connections=args.connections,
                )
            runs: dict[str, list[dict]] = {label: [] for label in servers}
            for number in range(1, args.rounds + 1):
                line = [f"round {number}:"]
                for label, (process, url) in servers.items():
                    result = wrk_run(
                        url,
                        process,
                        script,
                        seconds=args.seconds,
                        threads=args.threads,
                        connections=args.connections,
                    )
                    runs[label].append(result)
                    line.append(f"{label} {result['rps']:7.0f}/s")
                print("  ".join(line), flush=True)
        finally:
            for process in processes:
                _stop(process)
        # Each round's ratio is to the ceiling of that same round, then the median of those.
        ratios = ratios_to_ceiling(runs)
        print(
            f"\n{'':24} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'ratio':>6}"
            f" {'server CPU ms/req':>18}"
        )
        for label, results in runs.items():
            rps, p50, p99, cpu = medians(results)
            errors = sum(run["errors"] for run in results)
            print(
                f"{label:24} {rps:8.0f} {p50:8.2f} {p99:8.2f} {errors:7d} {ratios[label]:6.2f}"
                f" {cpu:18.3f}"
            )
        verdict = "met" if ratios["renderer"] >= TARGET_RATIO else "NOT met"
        print(f"target {TARGET_RATIO} x ceiling for the renderer over HTTP: {verdict}")

        print(f"\nin-process render(new id, size), CPU time, best of 5 x {args.calls} calls:")
        print(f"{'':24}" + "".join(f" {f'{s} px ms':>9} {'bytes':>6}" for s in IN_PROCESS_SIZES))
        for label, tree in trees.items():
            timings = _in_process(tree, args.calls)
            cells = (
                f" {timings[str(s)]['ms']:9.3f} {timings[str(s)]['bytes']:6.0f}"
                for s in IN_PROCESS_SIZES
            )
            print(f"{label:24}" + "".join(cells))


if __name__ == "__main__":
    if "--in-process-child" in sys.argv:  # the child prints JSON for its parent
        main()
    else:
        with recorded("renderer_bench"):
            main()
