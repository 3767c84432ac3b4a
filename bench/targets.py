"""Targets of the serving benches, judged on figures measured in the same run: a ratio of
req/s to a ceiling (or to another scenario), over all rounds or as the median of the
per-round ratios, or a latency tail against the reference's own; and the Markdown tables
that put each verdict beside its row, or every bench's verdicts together."""

from __future__ import annotations

import math
import statistics
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
    shown: str = ""  # the value as the tables show it, when not a plain ratio

    @property
    def value_text(self) -> str:
        return self.shown or f"{self.value:.2f}"

    @property
    def outcome(self) -> str:
        return "PASS" if self.passed else "FAIL"

    def __str__(self) -> str:
        return f"{self.target}: {self.value_text} {self.outcome}{self.note}"


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


def round_ratios(results: Results, scenario: str, over: str) -> list[float]:
    """req/s of `scenario` over that of `over`, round by round (run i of each: the
    rounds interleave, so both saw the same moment of the machine's load)."""
    pairs = zip(results[scenario].runs, results[over].runs, strict=False)
    return [mine.rate / base.rate if base.rate else math.nan for mine, base in pairs]


def median_of_rounds(
    scenario: str, minimum: float, over: str, over_label: str | None = None
) -> Target:
    """The median over rounds of `scenario`'s req/s over `over`'s in the same round, at
    least `minimum`: one round that a neighbour's burst spoiled moves it less than it
    moves the ratio of the summed rates (the table's ratio column)."""
    text = f"median of rounds >= {minimum:.2f} x {over_label or over}"

    def judge(results: Results) -> Verdict:
        ratios = round_ratios(results, scenario, over)
        value = statistics.median(ratios) if ratios else math.nan
        note = " (rounds: " + ", ".join(f"{r:.2f}" for r in ratios) + ")"
        return Verdict(scenario, text, value, value >= minimum, note)

    return Target(scenario, (scenario, over), judge)


def tail(measured: Measured) -> float:
    """p99 over p50: how far the slow requests stand from the typical one."""
    return measured.percentile_ms(99) / measured.percentile_ms(50)


def tail_relative(scenario: str, factor: float, reference: str) -> Target:
    """`scenario`'s p99/p50 at most `factor` times `reference`'s own p99/p50 in the same
    run: the tail our code adds, not the one gunicorn and the machine have anyway."""
    text = f"p99/p50 <= {factor:g} x {reference}'s p99/p50"

    def judge(results: Results) -> Verdict:
        mine, theirs = tail(results[scenario]), tail(results[reference])
        value = mine / theirs
        note = f" (p99/p50: {mine:.1f}, the {reference}'s {theirs:.1f})"
        return Verdict(scenario, text, value, value <= factor, note)

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


def verdict_table(rows: list[tuple[str, Verdict]]) -> list[str]:
    """Every target of several benches in one Markdown table: (bench, verdict) rows."""
    lines = ["| scenario | target | value | verdict | bench |", "|---|---|---:|---|---|"]
    for bench, verdict in rows:
        lines.append(
            f"| {verdict.scenario} | {verdict.target}{verdict.note} | {verdict.value_text} "
            f"| {verdict.outcome} | {bench} |"
        )
    return lines


def summary(verdicts: list[Verdict]) -> str:
    met = sum(verdict.passed for verdict in verdicts)
    missed = ", ".join(f"{v.scenario} {v.target}" for v in verdicts if not v.passed)
    return f"Targets met: {met} of {len(verdicts)}" + (f"; not met: {missed}." if missed else ".")
