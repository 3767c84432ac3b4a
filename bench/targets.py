"""Targets of the serving benches, judged on figures measured in the same run: a ratio of
req/s to a ceiling (or to another scenario), or a latency tail; and the Markdown table
that puts each verdict beside its row."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from bench.wrk import Measured

Results = dict[str, Measured]


@dataclass(frozen=True)
class Verdict:
    scenario: str
    target: str  # e.g. ">= 0.80 x ceiling"
    value: float
    passed: bool
    note: str = ""

    def __str__(self) -> str:
        return f"{self.target}: {self.value:.2f} {'PASS' if self.passed else 'FAIL'}{self.note}"


@dataclass(frozen=True)
class Target:
    """What one scenario must reach; `judge` needs `needs` measured."""

    scenario: str
    needs: tuple[str, ...]
    judge: Callable[[Results], Verdict]


def ratio(results: Results, scenario: str, over: str) -> float:
    """req/s of `scenario` over req/s of `over` (NaN when `over` served nothing)."""
    base = results[over].rate
    return results[scenario].rate / base if base else math.nan


def at_least(scenario: str, minimum: float, over: str, over_label: str | None = None) -> Target:
    """req/s of `scenario` at least `minimum` times that of `over`, in the same run."""
    text = f">= {minimum:.2f} x {over_label or over}"

    def judge(results: Results) -> Verdict:
        value = ratio(results, scenario, over)
        return Verdict(scenario, text, value, value >= minimum)

    return Target(scenario, (scenario, over), judge)


def tail_within(scenario: str, factor: float, reference: str) -> Target:
    """p99 of `scenario` within `factor` times its p50; `reference`'s own tail beside it
    (a noisy machine shows in the ceiling's tail first)."""

    def tail(measured: Measured) -> float:
        return measured.percentile_ms(99) / measured.percentile_ms(50)

    def judge(results: Results) -> Verdict:
        value = tail(results[scenario])
        note = f" (the {reference}'s own: {tail(results[reference]):.1f})"
        return Verdict(scenario, f"p99 <= {factor:g} x p50", value, value <= factor, note)

    return Target(scenario, (scenario, reference), judge)


def judge(targets: list[Target], results: Results) -> list[Verdict]:
    """The verdict of every target whose scenarios were measured."""
    return [t.judge(results) for t in targets if all(key in results for key in t.needs)]


def table(
    rows: list[tuple[str, str]],
    results: Results,
    base: str,
    verdicts: list[Verdict],
    base_label: str | None = None,
) -> list[str]:
    """A Markdown table of (key, label) rows: req/s, p50, p99, errors, server CPU per
    request, the ratio to `base`'s req/s, and each row's verdicts."""
    lines = [
        f"| scenario | req/s | p50 ms | p99 ms | errors | CPU us/req | x {base_label or base} "
        "| target |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for key, label in rows:
        measured = results[key]
        targets = "; ".join(str(v) for v in verdicts if v.scenario == key)
        lines.append(
            f"| {label} | {measured.rate:,.0f} | {measured.percentile_ms(50):.2f} "
            f"| {measured.percentile_ms(99):.2f} | {measured.errors:,} | {measured.cpu_us:,.0f} "
            f"| {ratio(results, key, base):.2f} | {targets} |"
        )
    return lines


def summary(verdicts: list[Verdict]) -> str:
    met = sum(verdict.passed for verdict in verdicts)
    missed = ", ".join(f"{v.scenario} {v.target}" for v in verdicts if not v.passed)
    return f"Targets met: {met} of {len(verdicts)}" + (f"; not met: {missed}." if missed else ".")
