"""Warming the monster cache: stream work in, skip what is cached, generate the rest.

The `warm_cache` command parses arguments and prints; this module does the work, in
constant memory whatever the size of the input:

- Work is a stream of `Entry(identifier, size)` (plus `Invalid` records for input that
  cannot become an entry), read lazily from names, a file or the audit log.
- It is taken in batches of `BATCH_SIZE`. Within a batch duplicates are dropped and the
  rest is checked against the cache in one round trip (`service.cached_identicons`).
- Misses go to `concurrency` worker threads through a bounded queue, so at most about
  six times `concurrency` entries are ever in flight (queued, in hand, or done and not
  yet counted). Each goes through the service's
  miss path, `service.generate_identicon(origin="warm")` (the batch was just checked, so
  no second GET): render, store with SET NX, then its audit row, which a shared
  `service.AuditBatch` writes 100 rows to an INSERT. Of concurrent generations of one
  entry only the SET NX winner is recorded.
- Duplicates further apart than a batch are caught by the cache check (the first one is
  cached by then) or, while the first is still being generated, by the set of entries in
  flight. Only with `force` (no cache check) can a name repeated more than a batch later
  be generated, and recorded, twice.
- Ctrl-C stops feeding, drops the queued entries, lets the ones being generated finish
  (a second Ctrl-C abandons them) and returns the summary so far. Nothing is ever
  half-written: the cache write is one Redis SET of the whole PNG; an audit row joins
  the batch only after that SET, and the batch is flushed before `warm` returns, on
  every path. Ctrl-C reaches only the warming thread, never a worker mid-write.

Counting, progress and errors are reported, always from the calling thread, to a
`Reporter`.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime
import itertools
import queue
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, NamedTuple, Protocol

from django.db import connections
from django.db.models import QuerySet
from django.utils import timezone

from . import identity, service, sizes, sources
from .models import Generation

DEFAULT_CONCURRENCY = 8
MIN_CONCURRENCY = 1
MAX_CONCURRENCY = 64
# Entries checked against the cache per round trip; also the dedupe window.
BATCH_SIZE = 500
# A valid name is at most 200 characters, 800 bytes of UTF-8: a longer line is not read
# into memory whole, it is skipped in pieces of this size.
MAX_LINE_BYTES = 4096
AUDIT_LOG_CHUNK = 2000


class Entry(NamedTuple):
    """One cache entry to warm: the monster for `identifier` at `size` pixels."""

    identifier: str
    size: int


class Invalid(NamedTuple):
    """Input that cannot be warmed: where it was and why, never the name itself."""

    where: str
    reason: str
    entries: int  # how many entries it stands for (one per size), for progress


Item = Entry | Invalid


class Reporter(Protocol):
    """Told about everything worth showing; always called from the warming thread."""

    def invalid(self, item: Invalid) -> None: ...

    def failed(self, entry: Entry, reason: str) -> None: ...

    def advance(self, entries: int) -> None: ...

    def interrupted(self, in_flight: int) -> None: ...


@dataclass(frozen=True)
class Sources:
    """Where the work comes from; any combination, at least one."""

    names: Sequence[str] = ()
    lines: BinaryIO | None = None  # --file PATH or stdin, opened in binary mode
    audit_log: bool = False
    since: datetime.date | None = None
    # --size; when empty: DEFAULT_SIZE for names, the recorded sizes for the audit log.
    sizes: tuple[int, ...] = ()

    @property
    def given(self) -> bool:
        return bool(self.names) or self.lines is not None or self.audit_log

    @property
    def name_sizes(self) -> tuple[int, ...]:
        return self.sizes or (sizes.DEFAULT_SIZE,)


@dataclass
class Summary:
    warmed: int = 0
    cached: int = 0
    invalid: int = 0
    failed: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    dry_run: bool = False

    @property
    def rate(self) -> float:
        return self.warmed / self.seconds if self.seconds > 0 else 0.0


def parse_since(value: str) -> datetime.date:
    """A YYYY-MM-DD date; ValueError says why not."""
    try:
        return datetime.datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise ValueError(f"--since must be a date as YYYY-MM-DD, not {value!r}") from None


# --- Reading the work ------------------------------------------------------------------


def work(src: Sources) -> Iterator[Item]:
    """Every entry the sources name, lazily, in order: names, then lines, then audit log."""
    yield from _from_names(src.names, src.name_sizes)
    if src.lines is not None:
        yield from _from_lines(src.lines, src.name_sizes)
    if src.audit_log:
        yield from _from_audit_log(since=src.since, sizes_given=src.sizes)


def count_work(src: Sources) -> int | None:
    """How many entries `work(src)` will yield, or None when that cannot be known
    without consuming the input (a pipe on stdin). Reads a seekable file once."""
    total = len(src.names) * len(src.name_sizes)
    if src.lines is not None:
        if not src.lines.seekable():
            return None
        start = src.lines.tell()
        candidates = sum(1 for _ in _candidate_lines(src.lines))
        src.lines.seek(start)
        total += candidates * len(src.name_sizes)
    if src.audit_log:
        generations = _audit_log(src.since)
        if src.sizes:
            hashes = generations.values_list("name_hash", flat=True).distinct().count()
            total += hashes * len(src.sizes)
        else:
            total += generations.values_list("name_hash", "size").distinct().count()
    return total


def _name_entries(name: str, where: str, name_sizes: tuple[int, ...]) -> Iterator[Item]:
    name = name.strip()
    problem = identity.name_problem(name)
    if problem:
        yield Invalid(where, problem, len(name_sizes))
        return
    identifier = identity.hash_name(name)
    for size in name_sizes:
        yield Entry(identifier, size)


def _from_names(names: Sequence[str], name_sizes: tuple[int, ...]) -> Iterator[Item]:
    for number, name in enumerate(names, start=1):
        yield from _name_entries(name, f"argument {number}", name_sizes)


def _candidate_lines(stream: BinaryIO) -> Iterator[tuple[int, str | None]]:
    """(line number, text) for every line that is not blank or a comment; text is None
    for a line that is too long or not UTF-8. Reads at most MAX_LINE_BYTES at a time."""
    for number in itertools.count(1):
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = stream.readline(MAX_LINE_BYTES + 1)
            yield number, None
            continue
        if number == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            yield number, None
            continue
        if text and not text.startswith("#"):
            yield number, text


def _from_lines(stream: BinaryIO, name_sizes: tuple[int, ...]) -> Iterator[Item]:
    for number, text in _candidate_lines(stream):
        if text is None:
            reason = f"not UTF-8, or longer than {MAX_LINE_BYTES} bytes"
            yield Invalid(f"line {number}", reason, len(name_sizes))
        else:
            yield from _name_entries(text, f"line {number}", name_sizes)


def _audit_log(since: datetime.date | None) -> QuerySet[Generation]:
    generations = Generation.objects.order_by()  # no ORDER BY: it would defeat DISTINCT
    if since is not None:
        midnight = datetime.datetime.combine(since, datetime.time.min)
        generations = generations.filter(
            created_at__gte=timezone.make_aware(midnight, timezone.get_current_timezone())
        )
    return generations


def _from_audit_log(*, since: datetime.date | None, sizes_given: tuple[int, ...]) -> Iterator[Item]:
    generations = _audit_log(since)
    if sizes_given:
        hashes = generations.values_list("name_hash", flat=True).distinct()
        for identifier in hashes.iterator(chunk_size=AUDIT_LOG_CHUNK):
            for size in sizes_given:
                yield Entry(identifier, size)
        return
    pairs = generations.values_list("name_hash", "size").distinct()
    for identifier, size in pairs.iterator(chunk_size=AUDIT_LOG_CHUNK):
        try:
            sizes.parse_size(str(size))  # the accepted range may have narrowed since
        except ValueError as exc:
            yield Invalid(f"audit log entry {identifier[:12]}", str(exc), 1)
            continue
        yield Entry(identifier, size)


# --- Doing the work --------------------------------------------------------------------


class _Outcome(NamedTuple):
    entry: Entry
    generated: bool = False
    failure: str | None = None  # the renderer's failure, safe to show
    crash: Exception | None = None  # a bug: re-raised in the warming thread


def _generate(entry: Entry, force: bool, audit: service.AuditBatch) -> _Outcome:
    try:
        stored = service.generate_identicon(
            identifier=entry.identifier,
            size=entry.size,
            origin=Generation.Origin.WARM,
            force=force,
            audit=audit,
        )
    except sources.SourceError as exc:
        return _Outcome(entry, failure=str(exc))
    return _Outcome(entry, generated=stored)


class _Workers:
    """`count` threads fed through a queue that holds at most `QUEUED_PER_WORKER * count`
    entries; results come back on another queue, read only by the warming thread.

    The warming thread sleeps while the queue is full and is woken once it has drained
    to `count` entries, then refills it in one go: one wake-up per many entries rather
    than one per entry, which would cost a GIL hand-off each.
    """

    QUEUED_PER_WORKER = 4

    def __init__(self, count: int, *, force: bool, audit: service.AuditBatch) -> None:
        self._force = force
        self._audit = audit
        self._jobs: queue.SimpleQueue[Entry | None] = queue.SimpleQueue()
        self._low_water = count
        self._high_water = self.QUEUED_PER_WORKER * count
        self._room = threading.Event()
        self._results: queue.SimpleQueue[_Outcome] = queue.SimpleQueue()
        # Daemon threads: after a second Ctrl-C the process may exit without them.
        self._threads = [
            threading.Thread(target=self._run, name=f"warm-{n}", daemon=True) for n in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def _run(self) -> None:
        try:
            while (entry := self._jobs.get()) is not None:
                if self._jobs.qsize() <= self._low_water:
                    self._room.set()
                try:
                    outcome = _generate(entry, self._force, self._audit)
                except Exception as exc:  # a bug: handed to the warming thread, which re-raises it
                    outcome = _Outcome(entry, crash=exc)
                self._results.put(outcome)
        finally:
            connections.close_all()  # this thread's own database connection

    def submit(self, entry: Entry) -> None:
        """Queue `entry`; blocks while the queue is full, which bounds the work in flight."""
        if self._jobs.qsize() >= self._high_water:
            self._room.clear()
            # Only this thread adds entries: once a worker has seen the queue at the low
            # water mark after the clear() above, it stays at or below it until we add.
            if self._jobs.qsize() > self._low_water:
                self._room.wait()
        self._jobs.put(entry)

    def finished(self) -> Iterator[_Outcome]:
        while not self._results.empty():
            yield self._results.get()

    def drop_queued(self) -> list[Entry]:
        """Take back every entry no worker has started yet."""
        dropped = []
        while not self._jobs.empty():
            entry = self._jobs.get()
            if entry is not None:
                dropped.append(entry)
        return dropped

    def stop(self) -> None:
        """Let the workers finish what is queued and in hand, then end them."""
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()


@dataclass
class _Run:
    """The state of one warming run, owned by the warming thread."""

    reporter: Reporter
    summary: Summary
    in_flight: set[Entry] = field(default_factory=set)

    def triage(self, batch: list[Item], *, check_cache: bool) -> list[Entry]:
        """The entries of `batch` that need generating; counts and reports the rest."""
        wanted: dict[Entry, None] = {}
        for item in batch:
            if isinstance(item, Invalid):
                self.summary.invalid += 1
                self.reporter.invalid(item)
                self.reporter.advance(item.entries)
            elif item in wanted or item in self.in_flight:
                self._skip(1)
            else:
                wanted[item] = None
        cached = service.cached_identicons(wanted) if check_cache and wanted else set()
        self._skip(len(cached))
        return [entry for entry in wanted if entry not in cached]

    def _skip(self, count: int) -> None:
        self.summary.cached += count
        self.reporter.advance(count)

    def record(self, outcome: _Outcome) -> None:
        self.in_flight.discard(outcome.entry)
        if outcome.crash is not None:
            raise outcome.crash
        if outcome.failure is not None:
            self.summary.failed += 1
            self.reporter.failed(outcome.entry, outcome.failure)
        elif outcome.generated:
            self.summary.warmed += 1
        else:  # another writer (the web) cached it between our check and our SET NX
            self.summary.cached += 1
        self.reporter.advance(1)


def _batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def warm(
    items: Iterable[Item],
    *,
    reporter: Reporter,
    concurrency: int = DEFAULT_CONCURRENCY,
    force: bool = False,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
) -> Summary:
    """Warm every entry in `items` that is not cached (all of them with `force`).

    Returns the counts; on Ctrl-C returns the counts so far with `interrupted` set.
    `dry_run` checks the cache and counts what would be generated, writing nothing.
    """
    if not MIN_CONCURRENCY <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be from {MIN_CONCURRENCY} to {MAX_CONCURRENCY}")
    started = time.perf_counter()
    run = _Run(reporter=reporter, summary=Summary(dry_run=dry_run))
    try:
        if dry_run:
            for batch in _batches(items, batch_size):
                would = run.triage(batch, check_cache=not force)
                run.summary.warmed += len(would)
                reporter.advance(len(would))
        else:
            _generate_all(items, run, concurrency=concurrency, force=force, batch_size=batch_size)
    except KeyboardInterrupt:
        run.summary.interrupted = True
    run.summary.seconds = time.perf_counter() - started
    return run.summary


def _generate_all(
    items: Iterable[Item], run: _Run, *, concurrency: int, force: bool, batch_size: int
) -> None:
    audit = service.AuditBatch()
    workers = _Workers(concurrency, force=force, audit=audit)
    try:
        for batch in _batches(items, batch_size):
            for entry in run.triage(batch, check_cache=not force):
                workers.submit(entry)
                run.in_flight.add(entry)
                for outcome in workers.finished():
                    run.record(outcome)
        workers.stop()
    except KeyboardInterrupt:
        run.summary.interrupted = True
        _drop_queued(workers, run)
        run.reporter.interrupted(len(run.in_flight))
        # The generations in hand finish and are counted; a second Ctrl-C abandons them
        # (see the module docstring for why that leaves nothing half-written).
        with contextlib.suppress(KeyboardInterrupt):
            workers.stop()
    except BaseException:
        _drop_queued(workers, run)
        workers.stop()
        raise
    finally:
        audit.flush()  # the rows of every entry cached so far
    for outcome in workers.finished():
        run.record(outcome)


def _drop_queued(workers: _Workers, run: _Run) -> None:
    for entry in workers.drop_queued():
        run.in_flight.discard(entry)
