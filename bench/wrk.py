"""wrk as the benches drive it: Lua scripts, one bounded run, and its figures.

Every script ends with `LUA_DONE`, whose `done()` prints the run's totals and its whole
latency histogram, so that rounds merge exactly (`Measured`): req/s over the summed time,
percentiles over every request of every round. Needs wrk (apt-get install wrk).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REQUEST_TIMEOUT = "10s"  # a slow response is measured, not dropped as an error
ERROR_KINDS = ("connect", "read", "write", "status", "timeout")

LUA_DONE = """
-- bench: each thread learns its number; done() prints the totals and the whole
-- latency histogram, so that rounds can be merged exactly.
local thread_count = 0
function setup(thread)
  thread:set("thread_number", thread_count)
  thread_count = thread_count + 1
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "bench-wrk: requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout))
  local parts = {}
  for i = 1, #latency do
    local value, count = latency(i)
    parts[#parts + 1] = string.format("%d:%d", value, count)
  end
  io.write("bench-wrk: latency_us ", table.concat(parts, " "), "\\n")
end
"""

LUA_ROTATE = """
-- Rotate over prepared requests; each thread starts at its own place in the rotation.
local prepared = {}
local position = 0
function init(args)
  for i, item in ipairs(items) do
    prepared[i] = wrk.format(item[1], item[2], item[3], item[4])
  end
  position = (thread_number * 389) % #prepared
end

function request()
  position = position % #prepared + 1
  return prepared[position]
end
"""

LUA_FRESH = """
-- A path never asked for before on every request: prefix (fresh per run and round),
-- thread number and a counter make up the id.
local counter = 0
local thread_hex
function init(args)
  thread_hex = string.format("%08x", thread_number)
end

function request()
  counter = counter + 1
  return wrk.format("GET", "/monster/" .. prefix .. thread_hex .. string.format("%016x", counter)
    .. query)
end
"""

_SUMMARY = re.compile(r"^bench-wrk: (requests=.*)$", re.MULTILINE)
_LATENCY = re.compile(r"^bench-wrk: latency_us(.*)$", re.MULTILINE)


def lua(value: object) -> str:
    """A Lua literal for strings, numbers, None, lists and dicts of them."""
    if value is None:
        return "nil"
    if isinstance(value, str):
        if not value.isascii() or not value.isprintable():
            raise ValueError(f"not a safe Lua string: {value!r}")
        return json.dumps(value)  # ASCII with \\ and \" escapes: valid Lua too
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{lua(k)}] = {lua(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "{" + ",\n  ".join(lua(item) for item in value) + "}"
    raise TypeError(type(value))


Request = tuple[str, str, dict[str, str] | None, str | None]  # method, path, headers, body


def rotate_script(items: list[Request]) -> str:
    """(method, path, headers, body) requests, sent in rotation."""
    return f"items = {lua(items)}\n" + LUA_ROTATE + LUA_DONE


def fresh_script(prefix: str, query: str) -> str:
    """GET /monster/<a new 64-hex id><query> on every request."""
    if not re.fullmatch(r"[0-9a-f]{40}", prefix):
        raise ValueError("the prefix is 40 hex digits: with 8 + 16 more, a 64-hex hash")
    return f"prefix = {lua(prefix)}\nquery = {lua(query)}\n" + LUA_FRESH + LUA_DONE


@dataclass
class WrkRun:
    """One wrk run, from the lines `LUA_DONE` prints."""

    requests: int
    seconds: float
    errors: dict[str, int]
    latency_us: Counter[int]
    server_cpu_seconds: float = 0.0  # the bench's servers together, measured around the run
    audit_rows: int = 0  # generations recorded during the run: one per cache miss

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @classmethod
    def parse(cls, output: str) -> WrkRun:
        summary, latency = _SUMMARY.search(output), _LATENCY.search(output)
        if not summary or not latency:
            raise RuntimeError(f"wrk printed no results:\n{output[-2000:]}")
        fields = dict(item.split("=") for item in summary.group(1).split())
        histogram: Counter[int] = Counter()
        for pair in latency.group(1).split():
            value, count = pair.split(":")
            histogram[int(value)] += int(count)
        return cls(
            requests=int(fields["requests"]),
            seconds=int(fields["duration_us"]) / 1e6,
            errors={name: int(fields[name]) for name in ERROR_KINDS},
            latency_us=histogram,
        )


@dataclass
class Measured:
    """All rounds of one scenario together: req/s over the summed time, merged latencies."""

    runs: list[WrkRun] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(run.requests for run in self.runs)

    @property
    def rate(self) -> float:
        seconds = sum(run.seconds for run in self.runs)
        return self.requests / seconds if seconds else 0.0

    @property
    def errors(self) -> int:
        return sum(sum(run.errors.values()) for run in self.runs)

    @property
    def audit_rows(self) -> int:
        return sum(run.audit_rows for run in self.runs)

    @property
    def cpu_us(self) -> float:
        """Server CPU per request, microseconds: far less sensitive than req/s to what
        else the machine runs."""
        requests = self.requests
        cpu = sum(run.server_cpu_seconds for run in self.runs)
        return cpu / requests * 1e6 if requests else 0.0

    def percentile_ms(self, percent: float) -> float:
        merged: Counter[int] = Counter()
        for run in self.runs:
            merged.update(run.latency_us)
        total = sum(merged.values())
        if not total:
            return math.nan
        wanted = total * percent / 100
        seen = 0
        for value in sorted(merged):
            seen += merged[value]
            if seen >= wanted:
                return value / 1000
        return max(merged) / 1000


def run_wrk(
    url: str, script: str, *, seconds: int, connections: int, threads: int, raw: Path
) -> WrkRun:
    """One bounded wrk run; its script and raw output are kept beside each other."""
    script_path = raw.with_suffix(".lua")
    script_path.write_text(script)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s"]
    command += ["--timeout", REQUEST_TIMEOUT, "--latency", "-s", str(script_path), url]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    raw.write_text(f"$ {' '.join(command)}\n{result.stdout}{result.stderr}")
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr[-1000:]}")
    return WrkRun.parse(result.stdout)
