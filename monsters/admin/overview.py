"""What the audit-log overview page shows, gathered in one place for the admin view."""

from __future__ import annotations

from typing import Any

from monsters.admin import chart, stats
from monsters.images import keys, service
from monsters.models import Generation


def overview_context() -> dict[str, Any]:
    """Totals, a 30-day bar chart, counts by source, origin and style, and the cache state of
    the newest monsters (one cache round trip for all of them)."""
    breakdown = stats.breakdown()
    newest = stats.newest_entries()
    # The newest monsters as the thumbnails show them: PNG.
    entries = [keys.Spec(entry.name_hash, entry.size) for entry in newest]
    cached = service.cached_specs(entries)
    origin_labels = dict(Generation.Origin.choices)
    bars = chart.bar_chart(stats.daily_counts())
    return {
        "total": breakdown.total,
        "distinct_hashes": stats.distinct_hash_count(),
        "chart": bars,
        "chart_days": stats.CHART_DAYS,
        "breakdowns": [
            ("source", _with_shares(breakdown.by_source, breakdown.total)),
            (
                "origin",
                _with_shares(
                    [(origin_labels.get(key, key), count) for key, count in breakdown.by_origin],
                    breakdown.total,
                ),
            ),
            ("style", _with_shares(breakdown.by_style, breakdown.total)),
        ],
        "newest": [
            {"entry": entry, "cached": key in cached}
            for entry, key in zip(newest, entries, strict=True)
        ],
        "newest_cached": len(cached),
    }


def _with_shares(counts: list[tuple[str, int]], total: int) -> list[dict[str, Any]]:
    """Each label with its count and its share of `total`, in percent."""
    return [
        {"label": label, "count": count, "percent": round(100 * count / total, 1) if total else 0}
        for label, count in counts
    ]
