"""Read-only questions staff ask of the audit log, each answered in one cheap query.

Written for a log of millions of rows: every query here is served by an index or by
one pass over the rows it counts (see the indexes on `Generation`).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Field, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from monsters.models import Generation

CHART_DAYS = 30
NEWEST_LIMIT = 20
# How many of the newest events to look through for distinct hashes: plenty for 20.
NEWEST_SCAN = 500


@dataclass(frozen=True)
class DayCount:
    day: datetime.date
    count: int


@dataclass(frozen=True)
class Breakdown:
    """Generation counts by source, by origin and by style; `total` is their common sum."""

    total: int
    by_source: list[tuple[str, int]]
    by_origin: list[tuple[str, int]]
    by_style: list[tuple[str, int]]


@dataclass(frozen=True)
class NewestEntry:
    name_hash: str
    size: int
    created_at: datetime.datetime


def distinct_values(field_name: str) -> list:
    """The distinct values of one column in the log, smallest first.

    `SELECT DISTINCT` reads every row; this recursive query hops from one value to the
    next through an index that leads with the column: one probe per distinct value.
    Meant for columns with a handful of values (size, source).
    """
    quote = connection.ops.quote_name
    table = quote(Generation._meta.db_table)
    field = Generation._meta.get_field(field_name)
    if not isinstance(field, Field) or not field.column:
        raise ValueError(f"{field_name!r} is not a column of the audit log")
    column = quote(field.column)
    sql = f"""
        WITH RECURSIVE found(value) AS (
            SELECT MIN({column}) FROM {table}
            UNION ALL
            SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > found.value)
            FROM found WHERE found.value IS NOT NULL
        )
        SELECT value FROM found WHERE value IS NOT NULL
    """  # noqa: S608 - only quoted table and column names are interpolated
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


def daily_counts(*, days: int = CHART_DAYS, today: datetime.date | None = None) -> list[DayCount]:
    """Generations per day for the `days` days ending `today`, oldest first, zeros included.

    Days are calendar days in the current time zone.
    """
    today = today or timezone.localdate()
    first = today - datetime.timedelta(days=days - 1)
    start = timezone.make_aware(datetime.datetime.combine(first, datetime.time.min))
    end = timezone.make_aware(
        datetime.datetime.combine(today + datetime.timedelta(days=1), datetime.time.min)
    )
    rows = (
        Generation.objects.filter(created_at__gte=start, created_at__lt=end)
        .annotate(day=TruncDate("created_at"))
        .order_by()
        .values_list("day")
        .annotate(count=Count("id"))
    )
    counted = dict(rows)
    return [
        DayCount(day=day, count=counted.get(day, 0))
        for day in (first + datetime.timedelta(days=offset) for offset in range(days))
    ]


def breakdown() -> Breakdown:
    """Totals by source, by origin and by style, from one grouped query."""
    groups = (
        Generation.objects.order_by()
        .values_list("source", "origin", "style")
        .annotate(count=Count("id"))
    )
    by_source: dict[str, int] = {}
    by_origin: dict[str, int] = {}
    by_style: dict[str, int] = {}
    for source, origin, style, count in groups:
        by_source[source] = by_source.get(source, 0) + count
        by_origin[origin] = by_origin.get(origin, 0) + count
        by_style[style] = by_style.get(style, 0) + count
    return Breakdown(
        total=sum(by_source.values()),
        by_source=sorted(by_source.items(), key=lambda item: -item[1]),
        by_origin=sorted(by_origin.items(), key=lambda item: -item[1]),
        by_style=sorted(by_style.items(), key=lambda item: -item[1]),
    )


def distinct_hash_count() -> int:
    """How many different monsters (hashes) were ever generated."""
    return Generation.objects.order_by().values("name_hash").distinct().count()


def newest_entries(*, limit: int = NEWEST_LIMIT) -> list[NewestEntry]:
    """The `limit` most recently generated hashes, newest first, each at its latest size."""
    recent = Generation.objects.order_by("-created_at", "-id").values_list(
        "name_hash", "size", "created_at"
    )[:NEWEST_SCAN]
    seen: set[str] = set()
    entries = []
    for name_hash, size, created_at in recent:
        if name_hash not in seen:
            seen.add(name_hash)
            entries.append(NewestEntry(name_hash=name_hash, size=size, created_at=created_at))
            if len(entries) == limit:
                break
    return entries


def events_of_hash(
    *, name_hash: str, exclude_id: int | None = None, limit: int = 50
) -> QuerySet[Generation]:
    """The newest generation events of one hash (served by the hash index)."""
    events = Generation.objects.filter(name_hash=name_hash).order_by("-created_at", "-id")
    if exclude_id is not None:
        events = events.exclude(pk=exclude_id)
    return events[:limit]
