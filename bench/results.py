"""Where a bench's figures go: one Markdown file per bench and day, bench/results/.

`write_result("hit_bench", text)` writes bench/results/<YYYY-MM-DD>-hit_bench.md (today's
date in UTC), replacing a file of the same day: the day's last run is the day's figure.
Docs quote these files by name; a result file is committed only when a real run wrote it.
"""

from __future__ import annotations

import io
import re
import shlex
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
RUNS_DIR = ROOT / "var" / "bench"  # raw output and logs of each run: not committed
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def result_path(bench_name: str, *, day: date | None = None, directory: Path = RESULTS_DIR) -> Path:
    """bench/results/<day>-<bench_name>.md, `day` being today in UTC unless given."""
    if not _NAME.fullmatch(bench_name):
        raise ValueError(f"not a bench name for a file: {bench_name!r}")
    day = day or datetime.now(UTC).date()
    return directory / f"{day.isoformat()}-{bench_name}.md"


def write_result(
    bench_name: str, markdown_text: str, *, day: date | None = None, directory: Path = RESULTS_DIR
) -> Path:
    """Write (or overwrite) the bench's result file for the day; its path."""
    path = result_path(bench_name, day=day, directory=directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown_text.rstrip("\n") + "\n")
    return path


def command_line() -> str:
    """How this bench was started, as one shell line (for the result's heading)."""
    script = Path(sys.argv[0]).resolve()
    if script.is_relative_to(ROOT):
        script = script.relative_to(ROOT)
    return shlex.join([".venv/bin/python", str(script), *sys.argv[1:]])


def code_block(lines: list[str]) -> str:
    """Lines as a fenced block, for text that is aligned in columns."""
    return "\n".join(["```", *lines, "```"])


def run_directory(name: str) -> Path:
    """var/bench/<name>-<UTC time>/ (with logs/ in it), for one run's raw output."""
    directory = RUNS_DIR / f"{name}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    (directory / "logs").mkdir(parents=True)
    return directory


def text_report(bench_name: str, lines: list[str]) -> str:
    """A result file for a bench that prints lines of text: a heading with the day, the
    command that ran, then the lines as they were printed."""
    day = result_path(bench_name).stem[:10]
    return "\n".join([f"# {bench_name}, {day}", "", f"`{command_line()}`", "", code_block(lines)])


class _Tee(io.TextIOBase):
    """Text written to it goes to each of `streams`."""

    def __init__(self, *streams: TextIO) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


@contextmanager
def recorded(bench_name: str, *, directory: Path = RESULTS_DIR) -> Iterator[None]:
    """What the block prints goes to the terminal as before and, once the block ends
    without an error, to the bench's result file (`text_report`): for benches that print
    their figures as they go. A run that fails writes no result."""
    printed = io.StringIO()
    with redirect_stdout(_Tee(sys.stdout, printed)):
        yield
    path = write_result(
        bench_name, text_report(bench_name, printed.getvalue().splitlines()), directory=directory
    )
    print(f"result: {path}")
