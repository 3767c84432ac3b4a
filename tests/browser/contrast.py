"""WCAG 2 text contrast, computed from the colours a browser reports.

The page gives us computed CSS colours (`rgb(...)`/`rgba(...)`) for the text and for
every box behind it, including gradient stops; we blend them as the browser paints
them and take the worst case, so a gradient that passes behind text is judged at its
least favourable point.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import NamedTuple

AA_TEXT = 4.5  # WCAG 2.2 success criterion 1.4.3, normal-size text
AA_NON_TEXT = 3.0  # WCAG 2.2 success criterion 1.4.11, focus indicators and controls

_COLOR = re.compile(r"rgba?\(\s*([^)]*)\)")


class RGBA(NamedTuple):
    red: float
    green: float
    blue: float
    alpha: float = 1.0

    @property
    def opaque(self) -> bool:
        return self.alpha >= 1.0


WHITE = RGBA(255, 255, 255)  # the canvas when no box paints an opaque background


def parse_color(css: str) -> RGBA:
    """`rgb(1, 2, 3)`, `rgba(1, 2, 3, 0.5)` or `rgb(1 2 3 / 0.5)`, as computed styles give them."""
    match = _COLOR.fullmatch(css.strip())
    if not match:
        raise ValueError(f"not a computed rgb() colour: {css!r}")
    parts = [part for part in re.split(r"[\s,/]+", match.group(1)) if part]
    if len(parts) not in (3, 4):
        raise ValueError(f"not a computed rgb() colour: {css!r}")
    red, green, blue = (float(part) for part in parts[:3])
    alpha = 1.0
    if len(parts) == 4:
        alpha = float(parts[3].rstrip("%")) / (100 if parts[3].endswith("%") else 1)
    return RGBA(red, green, blue, alpha)


def gradient_colors(background_image: str) -> list[RGBA]:
    """Every colour stop in a computed `background-image` (`none` has none)."""
    if "url(" in background_image:
        raise ValueError(f"cannot judge contrast over a picture: {background_image!r}")
    return [parse_color(match.group(0)) for match in _COLOR.finditer(background_image)]


def composite(top: RGBA, bottom: RGBA) -> RGBA:
    """`top` painted over an opaque `bottom` (source-over)."""
    a = top.alpha
    return RGBA(
        top.red * a + bottom.red * (1 - a),
        top.green * a + bottom.green * (1 - a),
        top.blue * a + bottom.blue * (1 - a),
    )


def relative_luminance(color: RGBA) -> float:
    """WCAG 2 relative luminance of an opaque sRGB colour, 0 (black) to 1 (white)."""

    def linear(channel: float) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(color.red) + 0.7152 * linear(color.green) + 0.0722 * linear(color.blue)


def contrast_ratio(first: RGBA, second: RGBA) -> float:
    """(L1 + 0.05) / (L2 + 0.05), lighter over darker: 1 to 21."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def backgrounds_behind(layers: Iterable[Mapping[str, str]]) -> list[RGBA]:
    """Every opaque colour that can show behind an element.

    `layers` are the computed `backgroundColor`/`backgroundImage` of the element and
    its ancestors, innermost first. Painting starts at the first opaque background
    colour (or the white canvas) and goes inwards; each gradient stop may cover any
    point, so each adds candidates.
    """
    stack: list[Mapping[str, str]] = []
    for layer in layers:
        stack.append(layer)
        if parse_color(layer["backgroundColor"]).opaque:
            break
    candidates = [WHITE]
    for layer in reversed(stack):
        fill = parse_color(layer["backgroundColor"])
        candidates = [composite(fill, below) for below in candidates]
        stops = gradient_colors(layer["backgroundImage"])
        candidates += [composite(stop, below) for stop in stops for below in candidates]
    return candidates


def worst_contrast(text_color: str, layers: Iterable[Mapping[str, str]]) -> float:
    """The lowest contrast of `text_color` against anything that can show behind it."""
    text = parse_color(text_color)
    return min(
        contrast_ratio(composite(text, background), background)
        for background in backgrounds_behind(layers)
    )
