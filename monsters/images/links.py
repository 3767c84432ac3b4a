"""The URLs we emit for monster images: every one names the art's revision (`v=`),
so it can be cached for a year and still never show stale art; and the permalink page
of a monster, which names nothing but the hash."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse

from monsters.images import keys, styles

STAFF_MONSTER_ROUTE = "admin:monsters_generation_monster"


def monster_url(
    name_hash: str, size: int, *, extension: str | None = None, style: str = styles.MONSTER
) -> str:
    """The public image URL of the current art: `/monster/<hash>` (PNG, the original
    app's form), or with `extension` (`png`, `svg`, `webp`) `/monster/<hash>.<ext>`;
    a style other than the monster is named in `style=`."""
    return _versioned(monster_path(name_hash, extension=extension), size, style)


def monster_path(name_hash: str, *, extension: str | None = None) -> str:
    """The image's path alone, without size or revision: what other sites embed."""
    if extension is None:
        return reverse("monsters:monster", args=[name_hash])
    return reverse("monsters:monster_format", args=[name_hash, extension])


def staff_monster_url(name_hash: str, size: int) -> str:
    """The staff-only image URL (admin thumbnails): renders are recorded as `admin`."""
    return _versioned(reverse(STAFF_MONSTER_ROUTE, args=[name_hash]), size)


def permalink_url(name_hash: str) -> str:
    """The monster's own page, to share: the hash, never the name."""
    return reverse("monsters:permalink", args=[name_hash])


def _versioned(path: str, size: int, style: str = styles.MONSTER) -> str:
    query: dict[str, str | int] = {"size": size, "v": keys.current_revision(style)}
    if style != styles.MONSTER:
        query["style"] = style
    return f"{path}?{urlencode(query)}"
