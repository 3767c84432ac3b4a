"""What to warm: a lazy stream of `keys.Spec` (and `Invalid` records for input
that cannot become one), read from names, a file or stdin, and the audit log.

Constant memory whatever the input's size: lines are read at most MAX_LINE_BYTES at a
time and the audit log in chunks of AUDIT_LOG_CHUNK.
"""

from __future__ import annotations

import codecs
import datetime
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO, NamedTuple

from django.db.models import QuerySet
from django.utils import timezone

from monsters.images import identity, sizes, styles
from monsters.images.keys import Spec
from monsters.models import Generation

# A valid name is at most 200 characters, 800 bytes of UTF-8: a longer line is not read
# into memory whole, it is skipped in pieces of this size.
MAX_LINE_BYTES = 4096
AUDIT_LOG_CHUNK = 2000


class Invalid(NamedTuple):
    """Input that cannot be warmed: where it was and why, never the name itself."""

    where: str
    reason: str
    entries: int  # how many entries it stands for (one per size), for progress


Item = Spec | Invalid


@dataclass(frozen=True)
class WarmInput:
    """Where the work comes from; any combination, at least one."""

    names: Sequence[str] = ()
    lines: BinaryIO | None = None  # --file PATH or stdin, opened in binary mode
    audit_log: bool = False
    since: datetime.date | None = None
    # --size; when empty: DEFAULT_SIZE for names, the recorded sizes for the audit log.
    sizes: tuple[int, ...] = ()
    # --style; when empty: the monster for names, the recorded styles for the audit log.
    styles: tuple[str, ...] = ()

    @property
    def given(self) -> bool:
        return bool(self.names) or self.lines is not None or self.audit_log

    @property
    def name_sizes(self) -> tuple[int, ...]:
        return self.sizes or (sizes.DEFAULT_SIZE,)

    @property
    def name_styles(self) -> tuple[str, ...]:
        return self.styles or (styles.MONSTER,)


def parse_since(value: str) -> datetime.date:
    """A YYYY-MM-DD date; ValueError says why not."""
    try:
        return datetime.datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise ValueError(f"--since must be a date as YYYY-MM-DD, not {value!r}") from None


def items(src: WarmInput) -> Iterator[Item]:
    """Every entry the input names, lazily, in order: names, then lines, then audit log."""
    yield from _from_names(src.names, src.name_sizes, src.name_styles)
    if src.lines is not None:
        yield from _from_lines(src.lines, src.name_sizes, src.name_styles)
    if src.audit_log:
        yield from _from_audit_log(since=src.since, sizes_given=src.sizes, styles_given=src.styles)


def count_items(src: WarmInput) -> int | None:
    """How many entries `items(src)` will yield, or None when that cannot be known
    without consuming the input (a pipe on stdin). Reads a seekable file once."""
    per_name = len(src.name_sizes) * len(src.name_styles)
    total = len(src.names) * per_name
    if src.lines is not None:
        if not src.lines.seekable():
            return None
        start = src.lines.tell()
        candidates = sum(1 for _ in _candidate_lines(src.lines))
        src.lines.seek(start)
        total += candidates * per_name
    if src.audit_log:
        generations = _audit_log(src.since)
        if src.sizes:
            hashes = generations.values_list("name_hash", flat=True).distinct().count()
            total += hashes * len(src.sizes) * len(src.name_styles)
        elif src.styles:
            pairs = generations.values_list("name_hash", "size").distinct().count()
            total += pairs * len(src.styles)
        else:
            total += generations.values_list("name_hash", "size", "style").distinct().count()
    return total


def _name_entries(
    name: str, where: str, name_sizes: tuple[int, ...], name_styles: tuple[str, ...]
) -> Iterator[Item]:
    name = name.strip()
    problem = identity.name_problem(name)
    if problem:
        yield Invalid(where, problem, len(name_sizes) * len(name_styles))
        return
    name_hash = identity.hash_name(name)
    for size in name_sizes:
        for style in name_styles:
            yield Spec(name_hash, size, style=style)


def _from_names(
    names: Sequence[str], name_sizes: tuple[int, ...], name_styles: tuple[str, ...]
) -> Iterator[Item]:
    for number, name in enumerate(names, start=1):
        yield from _name_entries(name, f"argument {number}", name_sizes, name_styles)


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


def _from_lines(
    stream: BinaryIO, name_sizes: tuple[int, ...], name_styles: tuple[str, ...]
) -> Iterator[Item]:
    for number, text in _candidate_lines(stream):
        if text is None:
            reason = f"not UTF-8, or longer than {MAX_LINE_BYTES} bytes"
            yield Invalid(f"line {number}", reason, len(name_sizes) * len(name_styles))
        else:
            yield from _name_entries(text, f"line {number}", name_sizes, name_styles)


def _audit_log(since: datetime.date | None) -> QuerySet[Generation]:
    generations = Generation.objects.order_by()  # no ORDER BY: it would defeat DISTINCT
    if since is not None:
        midnight = datetime.datetime.combine(since, datetime.time.min)
        generations = generations.filter(
            created_at__gte=timezone.make_aware(midnight, timezone.get_current_timezone())
        )
    return generations


def _from_audit_log(
    *, since: datetime.date | None, sizes_given: tuple[int, ...], styles_given: tuple[str, ...]
) -> Iterator[Item]:
    """Without --size and --style, what was recorded: each (hash, size, style) again."""
    generations = _audit_log(since)
    if sizes_given:
        hashes = generations.values_list("name_hash", flat=True).distinct()
        for name_hash in hashes.iterator(chunk_size=AUDIT_LOG_CHUNK):
            for size in sizes_given:
                for style in styles_given or (styles.MONSTER,):
                    yield Spec(name_hash, size, style=style)
        return
    recorded: Iterator[tuple[str, int, str]]
    if styles_given:
        recorded = (
            (name_hash, size, style)
            for name_hash, size in generations.values_list("name_hash", "size")
            .distinct()
            .iterator(chunk_size=AUDIT_LOG_CHUNK)
            for style in styles_given
        )
    else:
        recorded = (
            generations.values_list("name_hash", "size", "style")
            .distinct()
            .iterator(chunk_size=AUDIT_LOG_CHUNK)
        )
    for name_hash, size, style in recorded:
        try:
            sizes.parse_size(str(size))  # the accepted range may have narrowed since
        except ValueError as exc:
            yield Invalid(f"audit log entry {name_hash[:12]}", str(exc), 1)
            continue
        yield Spec(name_hash, size, style=style)
