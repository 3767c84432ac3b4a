"""What the audit log's changelist may be asked: its search (hashes only) and the
lookups its filters put in the query string."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q

from monsters.admin import stats

HEX_DIGITS = frozenset("0123456789abcdef")
# What list_filter and date_hierarchy put into the changelist's query string.
ALLOWED_LOOKUPS = frozenset(
    {"source", "source__exact", "origin", "origin__exact", "size", "size__exact"}
    | {"style", "style__exact"}
    | {f"created_at__{part}" for part in ("year", "month", "day")}
)


def search_condition(term: str) -> Q | None:
    """What the admin search box matches for `term`, or None when nothing can match.

    A hex term matches hashes that start with it (lowercased, so `LIKE 'ab12%'` uses
    the prefix index). Nothing else: the box is a GET form, and a name in it would land
    in the query string, the access logs and the next page's Referer. Names go through
    the find-by-name page, which posts them.
    """
    prefix = term.strip().lower()
    if prefix and len(prefix) <= 64 and set(prefix) <= HEX_DIGITS:
        return Q(name_hash__startswith=prefix)
    return None


class KnownValuesFilter(admin.AllValuesFieldListFilter):
    """A field filter whose choices come from an index walk, not `SELECT DISTINCT`
    over the whole log (which reads every row, on every changelist page)."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.lookup_choices = stats.distinct_values(field.name)
