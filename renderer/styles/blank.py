"""`blank`: a fully transparent square of the size asked, for `d=blank`.

The same grid picture as the other styles, of one transparent cell: a one-colour palette
PNG whose only entry is transparent, an SVG with a size and nothing in it, and the
lossless WebP of the PNG (transparent too). It ignores the seed.
"""

from __future__ import annotations

from renderer.styles import Style, register
from renderer.styles.pixels import TRANSPARENT, Picture, png, svg, webp

NAME = "blank"
VERSION = 1
PICTURE = Picture(b"\0", 1, (TRANSPARENT,))


def render_png(seed: str, size: int) -> bytes:
    return png(PICTURE, size)


def render_svg(seed: str, size: int) -> bytes:
    return svg(PICTURE, size)


def render_webp(seed: str, size: int) -> bytes:
    return webp(PICTURE, size)


register(Style(NAME, VERSION, png=render_png, svg=render_svg, webp=render_webp))
