"""Synthetic audit-log rows, for benchmarks and demos only: never real traffic.

`seed_generations()` inserts rows that look like a live deployment's log: random
hashes (about a fifth of them seen again at another size), sizes mostly 80, 160 and
40, origin mostly `web`, byte counts and render times that grow with the size, and
times spread over the last `days` days, busier in the daytime, on weekdays and lately.
Rows are written in time order, as the service writes them, so the physical order of
the table matches a real one. PostgreSQL gets them through COPY (a million rows in
seconds); other databases through `bulk_create` in batches.
"""

from __future__ import annotations

import csv
import io
import math
import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TypeVar

from django.db import connection, transaction
from django.utils import timezone

from monsters.guards import database
from monsters.models import Generation

MAX_ROWS = 20_000_000
DEFAULT_DAYS = 90
DEFAULT_BATCH_SIZE = 20_000

# (value, weight): what a deployment's traffic looks like.
SIZES = [(80, 62), (160, 20), (40, 12), (120, 2), (16, 1), (32, 1), (256, 1), (512, 1)]
ORIGINS = [(Generation.Origin.WEB, 90), (Generation.Origin.WARM, 9), (Generation.Origin.ADMIN, 1)]
SOURCES = [("dnmonster", 85), ("builtin", 15)]
REPEAT_SHARE = 0.2  # share of rows that are an already-seen hash at another size
RECENT_HASHES = 5_000  # how far back a repeated hash is drawn from
COLUMNS = ["name_hash", "size", "source", "origin", "png_bytes", "render_ms", "created_at"]

Value = TypeVar("Value")


def _weighted(rng: random.Random, table: list[tuple[Value, int]]) -> Callable[[], Value]:
    values = [value for value, _ in table]
    weights = [weight for _, weight in table]
    cumulative = list(_accumulate(weights))
    return lambda: rng.choices(values, cum_weights=cumulative)[0]


def _accumulate(weights: list[int]) -> Iterator[int]:
    total = 0
    for weight in weights:
        total += weight
        yield total


def _day_weights(days: int, end: datetime) -> list[float]:
    """Relative traffic per day, oldest first: weekends quieter, a slow upward trend."""
    weights = []
    for index in range(days):
        day = end - timedelta(days=days - index)
        weekend = 0.6 if day.weekday() >= 5 else 1.0
        trend = 0.7 + 0.6 * index / max(days - 1, 1)
        weights.append(weekend * trend)
    return weights


def _rows_per_day(rows: int, weights: list[float]) -> list[int]:
    total = sum(weights)
    counts = [math.floor(rows * weight / total) for weight in weights]
    for index in range(rows - sum(counts)):  # hand the remainder to the latest days
        counts[-1 - index % len(counts)] += 1
    return counts


def _second_of_day(rng: random.Random) -> float:
    # Two overlapping humps (European and American office hours), a floor at night.
    if rng.random() < 0.15:
        return rng.uniform(0, 86_400)
    hour = rng.gauss(11, 3) if rng.random() < 0.5 else rng.gauss(19, 3)
    return (hour * 3600 + rng.uniform(0, 3600)) % 86_400


def synthetic_generations(
    *, rows: int, days: int = DEFAULT_DAYS, end: datetime | None = None, seed: int | None = None
) -> Iterator[tuple[str, int, str, str, int, float, datetime]]:
    """`rows` tuples in COLUMNS order, in time order, ending no later than `end`."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    end = end or timezone.now()
    start = end - timedelta(days=days)
    size_of = _weighted(rng, SIZES)
    origin_of = _weighted(rng, ORIGINS)
    source_of = _weighted(rng, SOURCES)
    recent: list[str] = []

    for day_index, count in enumerate(_rows_per_day(rows, _day_weights(days, end))):
        day_start = start + timedelta(days=day_index)
        offsets = sorted(_second_of_day(rng) for _ in range(count))
        for offset in offsets:
            if recent and rng.random() < REPEAT_SHARE:
                name_hash = rng.choice(recent)
            else:
                name_hash = f"{rng.getrandbits(256):064x}"
                if len(recent) < RECENT_HASHES:
                    recent.append(name_hash)
                else:
                    recent[rng.randrange(RECENT_HASHES)] = name_hash
            size = size_of()
            source = source_of()
            png_bytes = int((300 + size * 4.5) * rng.uniform(0.9, 1.1))
            base_ms = 12.0 if source == "dnmonster" else 0.5
            render_ms = round(base_ms * (1 + size / 160) * rng.lognormvariate(0, 0.4), 3)
            created_at = min(day_start + timedelta(seconds=offset), end)
            yield (name_hash, size, source, origin_of(), png_bytes, render_ms, created_at)


def _batches(items: Iterator, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _copy_batch(cursor, batch: list[tuple]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in batch:
        writer.writerow([*row[:-1], row[-1].isoformat()])
    buffer.seek(0)
    table = connection.ops.quote_name(Generation._meta.db_table)
    with database.unbounded():  # COPY cannot run under the wait callback
        cursor.copy_expert(
            f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv)", buffer
        )


def seed_generations(
    *,
    rows: int,
    days: int = DEFAULT_DAYS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    seed: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Insert `rows` synthetic generations; returns how many were inserted.

    Each batch is its own transaction, so an interrupted seed keeps what it wrote.
    `progress` is called with the running total after every batch.
    """
    if not 1 <= rows <= MAX_ROWS:
        raise ValueError(f"rows must be from 1 to {MAX_ROWS:,}, not {rows:,}")
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, not {batch_size}")

    use_copy = connection.vendor == "postgresql"
    inserted = 0
    for batch in _batches(synthetic_generations(rows=rows, days=days, seed=seed), batch_size):
        with transaction.atomic():
            if use_copy:
                with connection.cursor() as cursor:
                    # A bulk load, not a request: DATABASE_STATEMENT_TIMEOUT_MS is not for it.
                    cursor.execute("SET LOCAL statement_timeout = 0")
                    _copy_batch(cursor, batch)
            else:
                Generation.objects.bulk_create(
                    Generation(**dict(zip(COLUMNS, row, strict=True))) for row in batch
                )
        inserted += len(batch)
        if progress:
            progress(inserted)
    if use_copy:
        # Fresh statistics, so the planner sees the new distribution at once.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 0")
            cursor.execute(f"ANALYZE {connection.ops.quote_name(Generation._meta.db_table)}")
    return inserted
