"""Every style the renderer draws, by name, behind one signature.

A style is a name and one drawing function per format, each `(seed, size) -> bytes`
for a `size` x `size` square, deterministic (the same seed and size give the same
bytes), plus a version that is part of the art's revision: bump it when the style's
pictures change, so caches keyed by the revision never serve the old art. Adding a
style touches its own module and one `register()` call, nothing else.

The monster (dnmonster-compatible, `art.py`, `svg.py`, `webp.py`) is the default. The
others are drawn on a grid of cells by `pixels.py`, at sizes 1 to MAX_SIZE: `identicon`,
`retro`, `mp` (one picture for every seed) and `blank` (docs/styles.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from renderer.art import RENDERER_VERSION, render
from renderer.svg import render_svg
from renderer.webp import render_webp

Draw = Callable[[str, int], bytes]
FORMATS = ("png", "svg", "webp")
MONSTER = "monster"


@dataclass(frozen=True)
class Style:
    name: str
    version: int
    png: Draw
    svg: Draw
    webp: Draw

    def drawer(self, fmt: str) -> Draw:
        if fmt not in FORMATS:
            raise ValueError(f"no format {fmt!r}: one of {', '.join(FORMATS)}")
        drawer: Draw = getattr(self, fmt)
        return drawer


STYLES: dict[str, Style] = {}


def register(style: Style) -> None:
    STYLES[style.name] = style


def draw(style: str, seed: str, size: int, fmt: str = "png") -> bytes:
    """The picture of `seed` in `style`, `size` px square, in `fmt`; ValueError for a
    style or format the renderer does not draw."""
    try:
        chosen = STYLES[style]
    except KeyError:
        raise ValueError(f"no style {style!r}: one of {', '.join(STYLES)}") from None
    return chosen.drawer(fmt)(seed, size)


# RENDERER_VERSION is a string for the web app's keys; a style's version is a number.
register(Style(MONSTER, int(RENDERER_VERSION), png=render, svg=render_svg, webp=render_webp))

# Each further style registers itself when its module is imported.
from renderer.styles import blank, identicon, mp, retro  # noqa: E402, F401
