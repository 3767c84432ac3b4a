"""Turn an identifier into PNG bytes: sprite grid -> crisp scaling -> 4-bit palette PNG.

The picture is a palette image from start to finish: each pixel holds its cell's role,
the monster's colours are the palette (`png_palette`) and the CLEAR role is transparent.
The twelve roles fit in four bits, two pixels a byte, so scaling, centring and
compressing move an eighth of the bytes an RGBA image would, and the PNG decodes to
exactly the same RGBA pixels.

Pillow scales and centres; the few bytes of PNG around the pixels are written here,
with the standard library's zlib. Pillow's PNG encoder asks zlib for its largest hash
table (memLevel 9), a fresh 128 KiB on every save: for a monster of a few hundred bytes
that allocation, and its page faults, were most of the render's time
(bench/renderer_bench.py measures the renderer).
"""

from __future__ import annotations

import struct
import zlib
from functools import cache
from typing import NamedTuple

from PIL import Image

from renderer.palette import CLEAR, png_palette
from renderer.parts import draw_cells, traits_for
from renderer.sprite import GRID

# Bump whenever the pictures change: the web app puts this into its ETags and cache keys.
RENDERER_VERSION = "1"

MIN_SIZE = 8
MAX_SIZE = 1024
DEFAULT_SIZE = 20

# zlib's level for the pixels. Scaled pixel art is long runs and repeated rows, which the
# default level (6) packs well and fast; 9 saves a few per cent for twice the time at
# 80 px, 1 costs a quarter more bytes at 80 px and three times more at 512.
PNG_COMPRESS_LEVEL = 6

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BIT_DEPTH = 4  # 16 palette entries: room for every role (tests/renderer/test_art.py)
# Two pixels pack into a byte. Two CLEAR pixels (0) in front of every row become the byte
# where PNG wants the row's filter type: 0, "None". So Pillow's packed rows are the PNG's.
_LEAD = 8 // BIT_DEPTH
_PACKED = f"P;{BIT_DEPTH}"
_COLOUR_TYPE_PALETTE = 3


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(kind))
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


# Palette entry 0, CLEAR (role 0), is fully transparent; the entries after it are opaque.
_TRANSPARENCY = _chunk(b"tRNS", bytes([0]))
_END = _chunk(b"IEND", b"")


@cache
def _palette_chunk(body_index: int, accent_index: int) -> bytes:
    return _chunk(b"PLTE", png_palette(body_index, accent_index))


def check_dimension(name: str, value: int) -> None:
    """ValueError unless `value` is a whole number of pixels the renderer draws."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not MIN_SIZE <= value <= MAX_SIZE:
        raise ValueError(f"{name} must be between {MIN_SIZE} and {MAX_SIZE}, got {value}")


class Placement(NamedTuple):
    """Where the sprite goes in a canvas: its side and top-left corner, in pixels."""

    side: int
    left: int
    top: int


def placement(width: int, height: int) -> Placement:
    """The sprite fitted and centred in a width x height canvas, as every format draws it."""
    fit = min(width, height)
    # Whole-number scaling keeps every cell a crisp square; only tiny sizes shrink instead.
    side = GRID * (fit // GRID) if fit >= GRID else fit
    return Placement(side, (width - side) // 2, (height - side) // 2)


def render_canvas(identifier: str, width: int, height: int) -> bytes:
    """PNG bytes of the monster fitted and centred in a transparent width x height canvas."""
    check_dimension("width", width)
    check_dimension("height", height)
    traits = traits_for(identifier)
    # One pixel per cell, holding the cell's role: an index into the palette.
    sprite = Image.frombytes("P", (GRID, GRID), draw_cells(traits))
    side, left, top = placement(width, height)
    if side != GRID:
        sprite = sprite.resize((side, side), Image.Resampling.NEAREST)
    canvas = Image.new("P", (_LEAD + width, height), CLEAR)
    canvas.paste(sprite, (_LEAD + left, top))
    header = struct.pack(">IIBBBBB", width, height, BIT_DEPTH, _COLOUR_TYPE_PALETTE, 0, 0, 0)
    pixels = zlib.compress(canvas.tobytes("raw", _PACKED), PNG_COMPRESS_LEVEL)
    return b"".join(
        (
            PNG_SIGNATURE,
            _chunk(b"IHDR", header),
            _palette_chunk(traits.colour, traits.accent),
            _TRANSPARENCY,
            _chunk(b"IDAT", pixels),
            _END,
        )
    )


def render(identifier: str, size: int) -> bytes:
    """PNG bytes of the monster for identifier in a size x size transparent square."""
    return render_canvas(identifier, size, size)
