"""`mp`, the mystery person: one grey head-and-shoulders silhouette for everyone.

It ignores the seed (Gravatar's `d=mp` is the same picture for every address). The
silhouette is geometry (a round head over rounded shoulders, a gap of background
between them) sampled on a grid of one cell a pixel up to 64 px, and above that of the
fewest whole-pixel cells that keep the grid within 64 cells (a 1024 px picture is 64
cells of 16 px), so the figure fills the canvas at every size, pixel-crisp. It stands on
the bottom edge, centred, on a light grey that fills the canvas.
"""

from __future__ import annotations

from functools import cache

from renderer.styles import Style, register
from renderer.styles.pixels import Picture, check_size, png, rgb, svg, webp

NAME = "mp"
VERSION = 1
BACKGROUND, FIGURE = 0, 1
COLOURS = (rgb("#e4e7eb"), rgb("#a4acb7"))

FINEST = 64  # cells across, at most
SAMPLES = 4  # per cell and axis: a cell is the figure when most of it is

# In units of the grid's side, y down: the head's centre and radius, the shoulders'
# ellipse's centre and radii (its lower half falls off the bottom edge).
HEAD = (0.5, 0.385, 0.2)
SHOULDERS = (0.5, 1.06, 0.41, 0.37)


def _inside(x: float, y: float) -> bool:
    hx, hy, hr = HEAD
    sx, sy, srx, sry = SHOULDERS
    return (x - hx) ** 2 + (y - hy) ** 2 <= hr * hr or (
        ((x - sx) / srx) ** 2 + ((y - sy) / sry) ** 2 <= 1
    )


@cache
def picture_on(grid: int) -> Picture:
    cells = bytearray(grid * grid)
    step = 1 / (grid * SAMPLES)
    for row in range(grid):
        for column in range(grid):
            hits = sum(
                _inside((column * SAMPLES + i + 0.5) * step, (row * SAMPLES + j + 0.5) * step)
                for i in range(SAMPLES)
                for j in range(SAMPLES)
            )
            if hits * 2 > SAMPLES * SAMPLES:
                cells[row * grid + column] = FIGURE
    return Picture(
        bytes(cells),
        grid,
        COLOURS,
        background=BACKGROUND,
        bottom=True,
        title="A mystery person from Identidock",
    )


def picture(size: int) -> Picture:
    check_size(size)
    scale = -(-size // FINEST)  # the fewest whole pixels a cell that fit FINEST cells
    return picture_on(max(1, size // scale))


def render_png(seed: str, size: int) -> bytes:
    return png(picture(size), size)


def render_svg(seed: str, size: int) -> bytes:
    return svg(picture(size), size)


def render_webp(seed: str, size: int) -> bytes:
    return webp(picture(size), size)


register(Style(NAME, VERSION, png=render_png, svg=render_svg, webp=render_webp))
