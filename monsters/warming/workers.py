"""The warmer's worker threads: each takes specs from a bounded queue and generates
them through the service's miss path; the engine (engine.py) feeds and counts them."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import NamedTuple

from monsters.audit.writer import Batcher
from monsters.guards import sources
from monsters.images import keys, service
from monsters.images.keys import Spec

QUEUED_PER_WORKER = 4
RENDERER_DOWN_AFTER = 3


class Outcome(NamedTuple):
    entry: Spec
    generated: bool = False
    skipped: bool = False  # not tried: the renderer was already down
    failure: str | None = None  # the renderer's failure, safe to show
    renderer_down: bool = False  # refused or timed out, rather than a bad answer
    crash: Exception | None = None  # a bug: re-raised in the calling thread


class RendererDown(Exception):
    """Raised in the calling thread to stop feeding the workers."""


def generate(entry: Spec, *, origin: str, force: bool, audit: Batcher) -> Outcome:
    ref = keys.locate(name_hash=entry.name_hash, size=entry.size, fmt=entry.fmt, style=entry.style)
    try:
        stored = service.generate_picture(ref, origin=origin, force=force, audit=audit)
    except (sources.SourceUnavailable, sources.SourceTimeout) as exc:
        return Outcome(entry, failure=str(exc), renderer_down=True)
    except sources.SourceError as exc:
        return Outcome(entry, failure=str(exc))
    return Outcome(entry, generated=stored)


class Workers:
    """`count` daemon threads fed through a bounded queue; outcomes come back on
    another queue, read only by the calling thread. The workers keep the streak of
    refusals and timeouts themselves, so entries already queued are skipped the moment
    the renderer is plainly down."""

    def __init__(self, count: int, *, origin: str, force: bool, audit: Batcher):
        self._origin = origin
        self._force = force
        self._audit = audit
        self._jobs: queue.Queue[Spec | None] = queue.Queue(maxsize=QUEUED_PER_WORKER * count)
        self._results: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self._streak_lock = threading.Lock()
        self._down_in_a_row = 0
        self.renderer_down = threading.Event()
        # Daemon threads: after a second Ctrl-C the process may exit without them.
        self._threads = [
            threading.Thread(target=self._run, name=f"warm-{n}", daemon=True) for n in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def _run(self) -> None:
        while (entry := self._jobs.get()) is not None:
            if self.renderer_down.is_set():
                self._results.put(Outcome(entry, skipped=True))
                continue
            try:
                outcome = generate(entry, origin=self._origin, force=self._force, audit=self._audit)
            except Exception as exc:  # a bug: handed to the calling thread, which re-raises it
                outcome = Outcome(entry, crash=exc)
            self._count_streak(outcome)
            self._results.put(outcome)

    def _count_streak(self, outcome: Outcome) -> None:
        with self._streak_lock:
            if outcome.renderer_down:
                self._down_in_a_row += 1
                if self._down_in_a_row >= RENDERER_DOWN_AFTER:
                    self.renderer_down.set()
            elif outcome.crash is None:
                self._down_in_a_row = 0

    def submit(self, entry: Spec) -> None:
        """Queue `entry`; blocks while the queue is full, which bounds the work in flight."""
        self._jobs.put(entry)

    def finished(self) -> Iterator[Outcome]:
        while True:
            try:
                yield self._results.get_nowait()
            except queue.Empty:
                return

    def drop_queued(self) -> list[Spec]:
        """Take back every entry no worker has started yet."""
        dropped: list[Spec] = []
        while True:
            try:
                entry = self._jobs.get_nowait()
            except queue.Empty:
                return dropped
            if entry is not None:
                dropped.append(entry)

    def stop(self) -> None:
        """Let the workers finish what is queued and in hand, then end them."""
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()
