"""Which styles an image can be drawn in, what draws each, and each one's revision.

The monster is the default and the only style a dnmonster draws: it comes from the
configured source (`sources.get_source()`), as before styles. Every other style is drawn
in this process by `renderer.styles.draw`, whatever DNMONSTER_URL says: a dnmonster
speaks only `/monster/<id>`, and the renderer package is imported here anyway (the
built-in source, SVG). Styles are whatever the renderer registers (`renderer.styles
.STYLES`), read at each call, so a style added there needs nothing here.
"""

from __future__ import annotations

from dataclasses import dataclass

from renderer import styles as renderer_styles

MONSTER = renderer_styles.MONSTER
# A style's name in a URL or a cache key: short, lowercase, nothing to quote.
NAME_PATTERN = r"[a-z0-9][a-z0-9-]{0,31}"


# Styles whose picture is the same for every id (the mystery person, the transparent
# square): a page about one id has nothing of its own to show in them.
SAME_FOR_EVERYONE = frozenset({"mp", "blank"})


def registered() -> tuple[str, ...]:
    """Every style the renderer draws, the monster first."""
    return (MONSTER, *sorted(name for name in renderer_styles.STYLES if name != MONSTER))


def is_registered(style: str) -> bool:
    return style in renderer_styles.STYLES


def revision(style: str) -> str:
    """A style's own revision (`<style>-r<version>`): part of its images' keys, ETags
    and `v=`, so a new version of a style's art is never served from an old entry.
    Not for the monster, whose revision is its source's."""
    return f"{style}-r{renderer_styles.STYLES[style].version}"


@dataclass(frozen=True)
class StyleSource:
    """A style other than the monster, drawn in this process."""

    style: str

    @property
    def name(self) -> str:
        return "builtin"

    @property
    def revision(self) -> str:
        return revision(self.style)

    @property
    def address(self) -> str:
        return "in-process"

    def for_format(self, fmt: str) -> StyleSource:
        return self  # every style draws every format

    def fetch(self, name_hash: str, size: int, fmt: str = "png") -> bytes:
        return renderer_styles.draw(self.style, name_hash, size, fmt)
