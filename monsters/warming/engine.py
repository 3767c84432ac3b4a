"""The one engine that fills the cache, for `warm_cache` and the admin's action alike.

- Items (`keys.Spec`, or `inputs.Invalid`) are taken in batches of `BATCH_SIZE`.
  Within a batch duplicates are dropped and the rest is checked against the cache in
  one round trip (`service.cached_specs`).
- Misses go to `concurrency` worker threads through a bounded `queue.Queue`, so at
  most `QUEUED_PER_WORKER + 1` entries per worker are ever in flight. Each goes through
  the service's miss path, `service.generate_picture` (the batch was just checked, so
  no second GET): render, store with SET NX, and its audit row joins a
  `audit.writer.Batcher`, which the calling thread writes 200 rows to an INSERT. Workers
  never touch the database. Of concurrent generations of one entry only the SET NX
  winner is recorded.
- Duplicates further apart than a batch are caught by the cache check (the first one is
  cached by then) or, while the first is still being generated, by the set of entries
  in flight. Only with `force` (no cache check) can an entry repeated more than a batch
  later be generated, and recorded, twice.
- One failure rule: a renderer that is plainly down (RENDERER_DOWN_AFTER refusals or
  timeouts in a row, no success between) stops the run early: the workers skip what is
  queued at once and nothing more is fed, instead of failing, and waiting out a
  timeout for, every remaining entry. Other failures (a bad image) are counted and the
  run goes on.
- Ctrl-C stops feeding, drops the queued entries, lets the ones being generated finish
  (a second Ctrl-C abandons them) and returns the summary so far. Nothing is ever
  half-written: the cache write is one SET of the whole PNG; an audit row joins the
  batch only after that SET, and the batch is written before `warm` returns, on every
  path. Ctrl-C reaches only the calling thread, never a worker mid-write.

Counting, progress and errors are reported, always from the calling thread, to a
`Reporter`.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from monsters.audit.writer import Batcher
from monsters.images import service
from monsters.images.keys import Spec
from monsters.warming.inputs import Invalid, Item
from monsters.warming.workers import (
    Outcome,
    RendererDown,
    Workers,
)

DEFAULT_CONCURRENCY = 8
MIN_CONCURRENCY = 1
MAX_CONCURRENCY = 64
# Entries checked against the cache per round trip; also the dedupe window.
BATCH_SIZE = 500
# Distinct failure reasons kept for the summary (the admin shows them).
MAX_REASONS = 5


class Reporter(Protocol):
    """Told about everything worth showing; always called from the calling thread."""

    def invalid(self, item: Invalid) -> None: ...

    def failed(self, entry: Spec, reason: str) -> None: ...

    def advance(self, entries: int) -> None: ...

    def interrupted(self, in_flight: int) -> None: ...


class SilentReporter:
    """For callers that only want the summary (the admin action)."""

    def invalid(self, item: Invalid) -> None:
        pass

    def failed(self, entry: Spec, reason: str) -> None:
        pass

    def advance(self, entries: int) -> None:
        pass

    def interrupted(self, in_flight: int) -> None:
        pass


@dataclass
class Summary:
    warmed: int = 0
    cached: int = 0
    invalid: int = 0
    failed: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    dry_run: bool = False
    renderer_down: bool = False  # stopped early: the rest was not tried
    reasons: list[str] = field(default_factory=list)  # distinct failure reasons, in order

    @property
    def done(self) -> int:
        """Entries dealt with, one way or another; the rest were never tried."""
        return self.warmed + self.cached + self.invalid + self.failed

    @property
    def rate(self) -> float:
        return self.warmed / self.seconds if self.seconds > 0 else 0.0


def check_concurrency(concurrency: int) -> int:
    """`concurrency` if it is in range; ValueError says why not."""
    if not MIN_CONCURRENCY <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(
            f"--concurrency must be from {MIN_CONCURRENCY} to {MAX_CONCURRENCY}, not {concurrency}"
        )
    return concurrency


@dataclass
class _Run:
    """The state of one warming run, owned by the calling thread."""

    reporter: Reporter
    summary: Summary
    audit: Batcher = field(default_factory=Batcher)
    in_flight: set[Spec] = field(default_factory=set)

    def triage(self, batch: list[Item], *, check_cache: bool) -> list[Spec]:
        """The entries of `batch` that need generating; counts and reports the rest."""
        wanted: dict[Spec, None] = {}
        for item in batch:
            if isinstance(item, Invalid):
                self.summary.invalid += 1
                self.reporter.invalid(item)
                self.reporter.advance(item.entries)
            elif item in wanted or item in self.in_flight:
                self._skip(1)
            else:
                wanted[item] = None
        cached = service.cached_specs(wanted) if check_cache and wanted else set()
        self._skip(len(cached))
        return [entry for entry in wanted if entry not in cached]

    def _skip(self, count: int) -> None:
        self.summary.cached += count
        self.reporter.advance(count)

    def record(self, outcome: Outcome) -> None:
        self.in_flight.discard(outcome.entry)
        if outcome.crash is not None:
            raise outcome.crash
        if outcome.skipped:
            return
        if outcome.failure is not None:
            self.summary.failed += 1
            if (
                outcome.failure not in self.summary.reasons
                and len(self.summary.reasons) < MAX_REASONS
            ):
                self.summary.reasons.append(outcome.failure)
            self.reporter.failed(outcome.entry, outcome.failure)
        elif outcome.generated:
            self.summary.warmed += 1
        else:  # another writer cached it between our check and our SET NX
            self.summary.cached += 1
        self.reporter.advance(1)
        self.audit.write_if_full()


def _batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def warm(
    items: Iterable[Item],
    *,
    origin: str,
    reporter: Reporter,
    concurrency: int = DEFAULT_CONCURRENCY,
    force: bool = False,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
) -> Summary:
    """Warm every entry in `items` that is not cached (all of them with `force`),
    recording each generation under `origin`.

    Returns the counts; on Ctrl-C returns the counts so far with `interrupted` set.
    `dry_run` checks the cache and counts what would be generated, writing nothing.
    """
    started = time.perf_counter()
    run = _Run(reporter=reporter, summary=Summary(dry_run=dry_run))
    try:
        if dry_run:
            for batch in _batches(items, batch_size):
                would = run.triage(batch, check_cache=not force)
                run.summary.warmed += len(would)
                reporter.advance(len(would))
        else:
            _generate_all(
                items,
                run,
                origin=origin,
                concurrency=concurrency,
                force=force,
                batch_size=batch_size,
            )
    except KeyboardInterrupt:
        run.summary.interrupted = True
    run.summary.seconds = time.perf_counter() - started
    return run.summary


def _generate_all(
    items: Iterable[Item],
    run: _Run,
    *,
    origin: str,
    concurrency: int,
    force: bool,
    batch_size: int,
) -> None:
    workers = Workers(concurrency, origin=origin, force=force, audit=run.audit)

    def record_finished() -> None:
        for outcome in workers.finished():
            run.record(outcome)
        if workers.renderer_down.is_set():
            raise RendererDown

    try:
        for batch in _batches(items, batch_size):
            for entry in run.triage(batch, check_cache=not force):
                record_finished()
                workers.submit(entry)
                run.in_flight.add(entry)
        workers.stop()
        if workers.renderer_down.is_set():  # the last entries were skipped: say so
            run.summary.renderer_down = True
    except RendererDown:
        run.summary.renderer_down = True
        _drop_queued(workers, run)
        workers.stop()
    except KeyboardInterrupt:
        run.summary.interrupted = True
        # The generations in hand finish and are counted; a second Ctrl-C abandons them
        # (see the module docstring for why that leaves nothing half-written). It may
        # come as soon as the first is reported, so the report is inside the guard too.
        with contextlib.suppress(KeyboardInterrupt):
            _drop_queued(workers, run)
            run.reporter.interrupted(len(run.in_flight))
            workers.stop()
    except BaseException:
        _drop_queued(workers, run)
        workers.stop()
        raise
    finally:
        try:
            for outcome in workers.finished():
                run.record(outcome)
        finally:
            run.audit.flush()  # the rows of every entry cached so far


def _drop_queued(workers: Workers, run: _Run) -> None:
    for entry in workers.drop_queued():
        run.in_flight.discard(entry)
