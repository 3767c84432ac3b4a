"""The URLs we emit for monster images: every one names the art's revision (`v=`),
so it can be cached for a year and still never show stale art."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse

from . import service

STAFF_MONSTER_ROUTE = "admin:monsters_generation_monster"


def monster_url(name_hash: str, size: int) -> str:
    """The public image URL of the current art."""
    return _versioned(reverse("monsters:monster", args=[name_hash]), size)


def staff_monster_url(name_hash: str, size: int) -> str:
    """The staff-only image URL (admin thumbnails): renders are recorded as `admin`."""
    return _versioned(reverse(STAFF_MONSTER_ROUTE, args=[name_hash]), size)


def _versioned(path: str, size: int) -> str:
    return f"{path}?{urlencode({'size': size, 'v': service.current_revision()})}"
