"""Template helpers for the audit-log admin: a date hierarchy that scales, numbers."""

from __future__ import annotations

import datetime
from typing import Any

from django import template
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import capfirst

register = template.Library()


@register.filter
def thousands(value: int) -> str:
    """1234567 -> "1,234,567", whatever the locale settings."""
    return f"{value:,}"


def months_between(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    """The first day of every month from `first`'s to `last`'s, inclusive."""
    months = []
    current = first.replace(day=1)
    while current <= last:
        months.append(current)
        current = (current + datetime.timedelta(days=32)).replace(day=1)
    return months


def days_between(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    return [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)]


@register.inclusion_tag("admin/date_hierarchy.html")
def generation_date_hierarchy(cl: Any) -> dict[str, Any]:
    """Django's date hierarchy with the same links, levels and template, but its choices
    come from the first and last time in the filtered log (one indexed MIN/MAX) instead
    of `SELECT DISTINCT date_trunc(...)` over every row. Every day or month between the
    two ends is offered; a rare empty one simply lists no rows.
    """
    field = cl.date_hierarchy
    year_field, month_field, day_field = (f"{field}__{part}" for part in ("year", "month", "day"))
    year = cl.params.get(year_field)
    month = cl.params.get(month_field)
    day = cl.params.get(day_field)

    def link(filters: dict[str, Any]) -> str:
        return cl.get_query_string(filters, [f"{field}__"])

    if year and month and day:
        picked = datetime.date(int(year), int(month), int(day))
        return {
            "show": True,
            "back": {
                "link": link({year_field: year, month_field: month}),
                "title": capfirst(date_format(picked, "YEAR_MONTH_FORMAT")),
            },
            "choices": [{"title": capfirst(date_format(picked, "MONTH_DAY_FORMAT"))}],
        }

    ends = cl.queryset.aggregate(first=Min(field), last=Max(field))
    if ends["first"] is None:
        back = {"link": link({}), "title": "All dates"} if year or month or day else None
        return {"show": True, "back": back, "choices": []}
    first = timezone.localtime(ends["first"]).date()
    last = timezone.localtime(ends["last"]).date()
    if not (year or month or day) and first.year == last.year:
        # Start one level down when everything is in one year (or one month), as Django does.
        year = first.year
        if first.month == last.month:
            month = first.month

    if year and month:
        return {
            "show": True,
            "back": {"link": link({year_field: year}), "title": str(year)},
            "choices": [
                {
                    "link": link({year_field: year, month_field: month, day_field: each.day}),
                    "title": capfirst(date_format(each, "MONTH_DAY_FORMAT")),
                }
                for each in days_between(first, last)
            ],
        }
    if year:
        return {
            "show": True,
            "back": {"link": link({}), "title": "All dates"},
            "choices": [
                {
                    "link": link({year_field: year, month_field: each.month}),
                    "title": capfirst(date_format(each, "YEAR_MONTH_FORMAT")),
                }
                for each in months_between(first, last)
            ],
        }
    return {
        "show": True,
        "back": None,
        "choices": [
            {"link": link({year_field: str(each)}), "title": str(each)}
            for each in range(first.year, last.year + 1)
        ],
    }
