"""`identicon`: a symmetric 5 x 5 pattern of squares in one colour on a pale tint of it.

The seed's SHA-256 picks the left three columns cell by cell (the right two mirror
them) and the colour from a curated set of strong mid-tones, each readable on its own
tint. A pattern too sparse to read gets a second helping of bits, one too solid loses
some, so every identicon is a shape. Half a cell of room all round; whole pixels a cell,
centred on the tint, which fills the canvas: exactly two colours at every size.
"""

from __future__ import annotations

import hashlib

from renderer.styles import register
from renderer.styles.pixels import Picture, Rgba, rgb, seeded_style

NAME = "identicon"
VERSION = 1
GRID = 5
HALF = (GRID + 1) // 2  # the columns drawn; the others mirror them
BITS = GRID * HALF
FEWEST, MOST = 6, 11  # filled cells of the BITS drawn
TINT = 0.86  # how far the background is mixed towards white

FOREGROUNDS: tuple[str, ...] = (
    "#d9485f",  # raspberry
    "#e8603c",  # vermilion
    "#e8891c",  # amber
    "#c99a06",  # ochre
    "#7aa51f",  # moss
    "#2f9e55",  # green
    "#12a08a",  # teal
    "#1798c4",  # cerulean
    "#3b78d8",  # blue
    "#5661d6",  # indigo
    "#7c4fd0",  # violet
    "#a947c2",  # purple
    "#d0459a",  # magenta
    "#8c6239",  # walnut
    "#4f6d7a",  # slate
    "#2b3a67",  # navy
)

BACKGROUND, FOREGROUND = 0, 1


def _tint(colour: Rgba) -> Rgba:
    red, green, blue = (round(c + (255 - c) * TINT) for c in colour[:3])
    return (red, green, blue, 255)


def _bits(digest: bytes, word: int) -> int:
    """The `word`-th BITS-bit word of the digest."""
    return (int.from_bytes(digest, "big") >> (BITS * word)) & ((1 << BITS) - 1)


def picture(seed: str) -> Picture:
    digest = hashlib.sha256(b"identicon\0" + seed.encode("utf-8")).digest()
    pattern = _bits(digest, 0)
    if pattern.bit_count() < FEWEST:
        pattern |= _bits(digest, 1)
    elif pattern.bit_count() > MOST:
        pattern &= _bits(digest, 1)
    cells = bytearray(GRID * GRID)
    for index in range(BITS):
        if pattern >> index & 1:
            x, y = index // GRID, index % GRID
            cells[y * GRID + x] = cells[y * GRID + GRID - 1 - x] = FOREGROUND
    colour = rgb(FOREGROUNDS[digest[-1] % len(FOREGROUNDS)])
    return Picture(
        bytes(cells),
        GRID,
        (_tint(colour), colour),
        background=BACKGROUND,
        room=1,
        title="An identicon from Identidock",
    )


register(seeded_style(NAME, VERSION, picture))
