"""`manage.py warm_cache`: fill the monster cache ahead of traffic.

Reads names (arguments, a file or stdin) and/or the audit log, skips what is cached and
generates the rest through the same service as the web, recorded with origin `warm`.
The work itself is in `monsters.warming` (the same engine as the admin's action); this
command parses, prints and exits: 0 when nothing failed, 1 when a generation failed or
the renderer was down, 2 for a usage error, 130 on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import sys
from collections.abc import Iterator
from typing import Any, BinaryIO

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from monsters.images import service, sizes, styles
from monsters.images.keys import Spec
from monsters.models import Generation
from monsters.warming import engine, inputs

USAGE_ERROR = 2
INTERRUPTED = 130  # 128 + SIGINT, as shells report it
# Without a known total, a line of progress every so many entries.
PROGRESS_LINE_EVERY = 10_000


class Command(BaseCommand):
    help = (
        "Fill the monster cache ahead of traffic: generate every entry named by NAME "
        "arguments, --file and/or --from-audit-log that is not cached yet."
    )
    stealth_options = ("stdin",)  # tests pass a binary stream in place of sys.stdin

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("names", nargs="*", metavar="NAME", help="names to warm")
        parser.add_argument(
            "--file",
            metavar="PATH",
            help="UTF-8 file with one name per line ('-' for stdin); "
            "blank lines and lines starting with '#' are skipped",
        )
        parser.add_argument(
            "--from-audit-log",
            action="store_true",
            help="every distinct (hash, size, style) in the audit log: rebuilds a lost cache "
            "without knowing anyone's name",
        )
        parser.add_argument(
            "--since",
            metavar="YYYY-MM-DD",
            help="with --from-audit-log: only generations from this day (UTC) on",
        )
        parser.add_argument(
            "--size",
            action="append",
            metavar="N",
            help=f"size in pixels, {sizes.MIN_SIZE} to {sizes.MAX_SIZE}; repeatable "
            f"(default {sizes.DEFAULT_SIZE}, or the recorded sizes with --from-audit-log)",
        )
        parser.add_argument(
            "--style",
            action="append",
            choices=styles.registered(),
            metavar="STYLE",
            help=f"style to draw ({', '.join(styles.registered())}); repeatable (default "
            f"{styles.MONSTER}, or the recorded styles with --from-audit-log)",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=engine.DEFAULT_CONCURRENCY,
            metavar="N",
            help=f"generations at once, {engine.MIN_CONCURRENCY} to "
            f"{engine.MAX_CONCURRENCY} (default {engine.DEFAULT_CONCURRENCY})",
        )
        parser.add_argument(
            "--force", action="store_true", help="regenerate entries even when cached"
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="count what would be warmed; write nothing",
        )

    def handle(self, *args: str, **options) -> None:
        verbosity = options["verbosity"]
        try:
            concurrency = engine.check_concurrency(options["concurrency"])
        except ValueError as exc:
            raise _usage(str(exc)) from None
        with contextlib.ExitStack() as stack:
            src = inputs.WarmInput(
                names=options["names"],
                lines=self._open_lines(options["file"], options.get("stdin"), stack),
                audit_log=options["from_audit_log"],
                since=_since(options["since"], options["from_audit_log"]),
                sizes=_sizes(options["size"]),
                styles=tuple(dict.fromkeys(options["style"] or ())),
            )
            if not src.given:
                raise _usage("nothing to warm: give NAME arguments, --file or --from-audit-log")
            if not service.cache_answers():
                # Every entry would be rendered and recorded, and none stored.
                raise CommandError("the monster cache (REDIS_URL) is unreachable", returncode=1)
            if verbosity >= 1 and service.cache_is_process_local() and not options["dry_run"]:
                self.stderr.write(
                    "The monster cache is local memory (REDIS_URL is unset): "
                    "what this command warms is gone when it exits.",
                    self.style.WARNING,
                )
            try:
                total = inputs.count_items(src) if verbosity >= 1 else None
            except KeyboardInterrupt:  # counting a long file takes a moment
                raise CommandError(
                    "interrupted before warming began", returncode=INTERRUPTED
                ) from None
            console = stack.enter_context(_Console(self, verbosity=verbosity, total=total))
            stack.enter_context(_quiet_service_log(verbosity))
            summary = engine.warm(
                inputs.items(src),
                origin=Generation.Origin.WARM,
                reporter=console,
                concurrency=concurrency,
                force=options["force"],
                dry_run=options["dry_run"],
            )
        if verbosity >= 1:
            self.stdout.write(
                _summary_line(summary),
                self.style.WARNING
                if summary.failed or summary.interrupted or summary.renderer_down
                else self.style.SUCCESS,
            )
        if summary.interrupted:
            raise CommandError(
                "interrupted; the summary shows what was done", returncode=INTERRUPTED
            )
        if summary.renderer_down:
            raise CommandError(
                f"stopped early: the renderer is down ({'; '.join(summary.reasons)}); "
                "run again once it is back",
                returncode=1,
            )
        if summary.failed:
            raise CommandError(
                f"{summary.failed} generation{'s' if summary.failed != 1 else ''} failed",
                returncode=1,
            )

    def _open_lines(
        self, path: str | None, stdin: BinaryIO | None, stack: contextlib.ExitStack
    ) -> BinaryIO | None:
        if path is None:
            return None
        if path == "-":
            return stdin if stdin is not None else sys.stdin.buffer
        try:
            return stack.enter_context(open(path, "rb"))
        except OSError as exc:
            raise _usage(f"cannot read {path}: {exc.strerror or exc}") from None


def _usage(message: str) -> CommandError:
    return CommandError(message, returncode=USAGE_ERROR)


def _sizes(values: list[str] | None) -> tuple[int, ...]:
    """--size values, validated exactly as the web route validates ?size=."""
    parsed: dict[int, None] = {}
    for value in values or ():
        try:
            parsed[sizes.parse_size(value)] = None
        except ValueError as exc:
            raise _usage(f"--size {value}: {exc}") from None
    return tuple(parsed)


def _since(value: str | None, from_audit_log: bool) -> datetime.date | None:
    if value is None:
        return None
    if not from_audit_log:
        raise _usage("--since only applies to --from-audit-log")
    try:
        return inputs.parse_since(value)
    except ValueError as exc:
        raise _usage(str(exc)) from None


def _summary_line(summary: engine.Summary) -> str:
    counts = f"already cached {summary.cached:,}, invalid {summary.invalid:,}"
    if summary.dry_run:
        return f"dry run: would warm {summary.warmed:,}, {counts} in {summary.seconds:.1f} s"
    line = (
        f"warmed {summary.warmed:,}, {counts}, failed {summary.failed:,} "
        f"in {summary.seconds:.1f} s ({summary.rate:,.1f}/s)"
    )
    if summary.renderer_down:
        return f"stopped early, the renderer is down: {line}"
    return f"interrupted: {line}" if summary.interrupted else line


@contextlib.contextmanager
def _quiet_service_log(verbosity: int) -> Iterator[None]:
    """Below -v 2, keep the service's one line per miss (and its duplicate of every
    failure we print anyway) off the console; its errors still show."""
    logger = logging.getLogger("monsters.images.service")
    previous = logger.level
    if verbosity < 2:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


class _Console:
    """The command's `engine.Reporter`: errors on stderr at any verbosity; progress
    on stdout from -v 1: a tqdm bar on a terminal, else a line per 10 %."""

    def __init__(self, command: Command, *, verbosity: int, total: int | None) -> None:
        self._stdout = command.stdout
        self._stderr = command.stderr
        self._style = command.style
        self._total = total
        self._done = 0
        self._next_line = 1
        self._bar: tqdm | None = None
        self._lines = verbosity >= 1 and not self._stdout.isatty()
        if verbosity >= 1 and self._stdout.isatty():
            # The raw stream: OutputWrapper.write() would end each of tqdm's redraws
            # with a newline.
            raw: Any = self._stdout._out
            self._bar = tqdm(total=total, unit=" entries", file=raw, dynamic_ncols=True)

    def __enter__(self) -> _Console:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.close()

    def _error(self, message: str) -> None:
        if self._bar is not None:
            self._bar.clear()
            self._stderr.write(message, self._style.ERROR)
            self._bar.refresh()
        else:
            self._stderr.write(message, self._style.ERROR)

    def invalid(self, item: inputs.Invalid) -> None:
        self._error(f"invalid {item.where}: {item.reason}")

    def failed(self, entry: Spec, reason: str) -> None:
        self._error(f"failed {entry.name_hash[:12]} @ {entry.size}px: {reason}")

    def interrupted(self, in_flight: int) -> None:
        self._error(
            f"Interrupted: finishing {in_flight} generation{'s' if in_flight != 1 else ''} "
            "in progress (Ctrl-C again to abandon them)."
        )

    def advance(self, entries: int) -> None:
        if not entries:
            return
        self._done += entries
        if self._bar is not None:
            self._bar.update(entries)
        elif self._lines:
            self._progress_lines()

    def _progress_lines(self) -> None:
        if self._total:
            tenth = min(10, self._done * 10 // self._total)
            if tenth >= self._next_line:  # one line, however many tenths this step passed
                self._stdout.write(f"{tenth * 10}% ({self._done:,} of {self._total:,} entries)")
                self._next_line = tenth + 1
        elif self._total is None and self._done >= self._next_line * PROGRESS_LINE_EVERY:
            self._next_line = self._done // PROGRESS_LINE_EVERY
            self._stdout.write(f"{self._next_line * PROGRESS_LINE_EVERY:,} entries done")
            self._next_line += 1
