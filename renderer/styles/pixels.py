"""One picture, three formats, for the styles drawn on a grid of cells.

A style draws a `Picture`: a square grid of cell roles (one byte per cell, row by row),
the RGBA colour of each role, the role that fills the canvas around the grid (or none:
transparent), how many cells of room the grid wants around it, and whether it sits in
the middle of the canvas or on its bottom edge (a bust stands on the frame).

`layout` fits the grid into a size x size canvas with a whole number of pixels per cell,
so every edge is crisp; a canvas too small for one pixel per cell gets the grid shrunk
with nearest-neighbour first. The PNG (an 8-bit palette PNG written here with zlib, as
the monster's), the SVG (`<rect>`s of whole cells under one integer `scale`, as the
monster's) and the WebP (the PNG's pixels, lossless) all come from that one layout, so
they show exactly the same pixels at every size from 1 to MAX_SIZE.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from PIL import Image

from renderer.art import MAX_SIZE, PNG_COMPRESS_LEVEL, PNG_SIGNATURE
from renderer.styles import Style
from renderer.svg import SVG_NAMESPACE, cell_rects
from renderer.webp import webp_from_png

# The styles draw any size a Gravatar client may ask for, up to the renderer's largest.
MIN_SIZE = 1


Rgba = tuple[int, int, int, int]
TRANSPARENT: Rgba = (0, 0, 0, 0)


@dataclass(frozen=True)
class Picture:
    """A square grid of cell roles and what the roles look like."""

    cells: bytes  # role of column x of row y: cells[y * grid + x]
    grid: int
    colours: tuple[Rgba, ...]  # RGBA of role n
    background: int | None = None  # the role around the grid; None: transparent
    room: int = 0  # cells of free space the canvas should hold around the grid, in all
    bottom: bool = False  # stand on the canvas's bottom edge instead of its middle
    title: str = ""


class Layout(NamedTuple):
    """The grid as drawn: `source` (one pixel per cell, or the grid shrunk to fit),
    `scale` whole pixels per source pixel, and its top-left corner in the canvas."""

    source: Image.Image
    scale: int
    left: int
    top: int


def check_size(size: int) -> None:
    """ValueError unless `size` is a whole number of pixels the styles draw."""
    if isinstance(size, bool) or not isinstance(size, int):
        raise ValueError(f"size must be an integer, got {size!r}")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be between {MIN_SIZE} and {MAX_SIZE}, got {size}")


def rgb(hex_colour: str) -> Rgba:
    """An opaque colour from "#rrggbb"."""
    value = int(hex_colour.lstrip("#"), 16)
    return (value >> 16, (value >> 8) & 0xFF, value & 0xFF, 255)


def layout(picture: Picture, size: int) -> Layout:
    check_size(size)
    grid = picture.grid
    source = Image.frombytes("P", (grid, grid), picture.cells)
    scale = size // (grid + picture.room)
    if scale >= 1:
        side = grid * scale
    else:
        # Fewer pixels than cells: keep the grid's share of the canvas, one pixel a cell.
        side = max(1, size * grid // (grid + picture.room))
        source = source.resize((side, side), Image.Resampling.NEAREST)
        scale = 1
    left = (size - side) // 2
    top = size - side if picture.bottom else (size - side) // 2
    return Layout(source, scale, left, top)


# --- PNG -------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(kind))
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png(picture: Picture, size: int) -> bytes:
    """An 8-bit palette PNG, size x size, whose palette is the picture's roles."""
    source, scale, left, top = layout(picture, size)
    if scale != 1:
        source = source.resize(
            (source.width * scale, source.height * scale), Image.Resampling.NEAREST
        )
    # One extra column in front of every row, always 0: PNG's filter byte ("None").
    fill = 0 if picture.background is None else picture.background
    canvas = Image.new("P", (1 + size, size), fill)
    canvas.paste(source, (1 + left, top))
    canvas.paste(0, (0, 0, 1, size))
    colours = picture.colours
    alphas = bytes(colour[3] for colour in colours)
    opaque = len(alphas.rstrip(b"\xff"))
    header = struct.pack(">IIBBBBB", size, size, 8, 3, 0, 0, 0)
    return b"".join(
        (
            PNG_SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"PLTE", b"".join(bytes(colour[:3]) for colour in colours)),
            _chunk(b"tRNS", alphas[:opaque]) if opaque else b"",
            _chunk(b"IDAT", zlib.compress(canvas.tobytes(), PNG_COMPRESS_LEVEL)),
            _chunk(b"IEND", b""),
        )
    )


# --- SVG -------------------------------------------------------------------------------


def _hex(colour: Rgba) -> str:
    return "#" + bytes(colour[:3]).hex()


def svg(picture: Picture, size: int) -> bytes:
    """SVG of exactly the PNG's pixels: an optional full-canvas background `<rect>`, then
    the grid's cells as `<rect>`s under `translate(left top) scale(whole pixels)`."""
    source, scale, left, top = layout(picture, size)
    parts = [
        f'<svg xmlns="{SVG_NAMESPACE}" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
    ]
    if picture.title:
        parts.append(f"<title>{picture.title}</title>")
    invisible = {role for role, colour in enumerate(picture.colours) if colour[3] == 0}
    if picture.background is not None:
        parts.append(
            f'<rect width="{size}" height="{size}" '
            f'fill="{_hex(picture.colours[picture.background])}"/>'
        )
        invisible.add(picture.background)
    by_role = cell_rects(source.tobytes(), source.width, invisible)
    if by_role:
        moves = f"translate({left} {top}) " if left or top else ""
        parts.append(f'<g transform="{moves}scale({scale})">')
        for role, rects in by_role.items():
            parts.append(f'<g fill="{_hex(picture.colours[role])}">')
            parts.extend(
                f'<rect x="{x}" y="{y}" width="{w}" height="{h}"/>' for x, y, w, h in rects
            )
            parts.append("</g>")
        parts.append("</g>")
    parts.append("</svg>\n")
    return "".join(parts).encode("ascii")


# --- WebP ------------------------------------------------------------------------------


def webp(picture: Picture, size: int) -> bytes:
    """Lossless WebP of the PNG's exact pixels (the monster's conversion)."""
    return webp_from_png(png(picture, size))


def seeded_style(name: str, version: int, picture: Callable[[str], Picture]) -> Style:
    """A style that draws one `Picture` per seed, at any size, in every format."""
    return Style(
        name,
        version,
        png=lambda seed, size: png(picture(seed), size),
        svg=lambda seed, size: svg(picture(seed), size),
        webp=lambda seed, size: webp(picture(seed), size),
    )
