"""Benchmark: the serving benches in turn, and one result file with every target they judge.

Runs bench/hit_bench.py, page_bench.py, miss_bench.py and proxy_bench.py one after the
other in this process and writes bench/results/<date>-serving_bench.md: first one table of
every target (scenario, target, value, PASS/FAIL, which bench), then each bench's own
report as a section of its own. Run alone, each bench writes its own result file; run
from here, only this one is written (raw output still goes to var/bench/<bench>-<time>/).

Each bench gets its own options (--hit-args=..., --page-args=..., --miss-args=...,
--proxy-args=..., one string each), then every other option given here (--duration 10,
--rounds 3, ...), which therefore wins. A bench whose harness fails is named in the file
and the others still run; the exit status is then 1.

    .venv/bin/python bench/serving_bench.py \\
        --hit-args="--redis-only-env MONSTER_PROCESS_CACHE_MB=0" [--duration 5]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python bench/serving_bench.py` puts bench/ on the path instead

from bench import hit_bench, miss_bench, page_bench, proxy_bench, targets
from bench.results import command_line, result_path, write_result
from bench.rounds import Section

BENCH = "serving_bench"
BENCHES: dict[str, Callable[..., Section]] = {
    "hit": hit_bench.run,
    "page": page_bench.run,
    "miss": miss_bench.run,
    "proxy": proxy_bench.run,
}


def demoted(lines: list[str]) -> list[str]:
    """A bench's report one heading level down (its title becomes a section), code
    blocks left as they are."""
    out, in_code = [], False
    for line in lines:
        if line.startswith("```"):
            in_code = not in_code
        out.append("#" + line if line.startswith("#") and not in_code else line)
    return out


def combined_report(sections: list[Section], failed: dict[str, str]) -> list[str]:
    """The combined result: every verdict in one table, then each bench's section."""
    verdicts = [(section.bench_name, v) for section in sections for v in section.verdicts]
    lines = [
        f"# {BENCH}, {result_path(BENCH).stem[:10]}",
        "",
        f"`{command_line()}`",
        "",
        "The serving benches, one after the other on the same machine: "
        + ", ".join(section.bench_name for section in sections)
        + ". Each section below is that bench's own report; ratios are to the reference "
        "measured in the same bench's run.",
        "",
        "## Every target",
        "",
        *targets.verdict_table(verdicts),
        "",
        targets.summary([verdict for _, verdict in verdicts]),
    ]
    for bench_name, error in failed.items():
        lines += ["", f"FAILED: {bench_name} did not finish: {error}"]
    for section in sections:
        lines += ["", *demoted(section.lines)]
    return lines


def parse_arguments(argv: list[str] | None) -> tuple[dict[str, list[str]], list[str]]:
    """Each bench's own options, and those for every bench."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    for name in BENCHES:
        parser.add_argument(
            f"--{name}-args", default="", metavar="ARGS", help=f"options for {name}_bench only"
        )
    own, common = parser.parse_known_args(argv)
    return {name: shlex.split(getattr(own, f"{name}_args")) for name in BENCHES}, common


def main(argv: list[str] | None = None) -> int:
    own, common = parse_arguments(argv)
    sections: list[Section] = []
    failed: dict[str, str] = {}
    for name, run in BENCHES.items():
        print(f"\n=== {name}_bench {shlex.join(own[name] + common)}", flush=True)
        try:
            sections.append(run(own[name] + common, result_file=False))
        except Exception as error:  # the harness failed: say so, run the others
            traceback.print_exc()
            failed[f"{name}_bench"] = f"{type(error).__name__}: {error}".splitlines()[0]
    path = write_result(BENCH, "\n".join(combined_report(sections, failed)))
    print(f"\nresult: {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
