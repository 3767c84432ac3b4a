"""Turn an identifier into PNG bytes: sprite grid -> crisp scaling -> palette PNG.

The picture is a palette image from start to finish: one byte per pixel holding the
cell's role, the monster's colours in the palette (`png_palette`) and the CLEAR role
transparent. Scaling, centring and encoding then move a quarter of the bytes an RGBA
image would, and the PNG is smaller; it decodes to exactly the same RGBA pixels.
"""

from __future__ import annotations

import io

from PIL import Image

from monsters.renderer.palette import CLEAR, png_palette
from monsters.renderer.parts import draw_cells, traits_for
from monsters.renderer.sprite import GRID

# Bump whenever the pictures change: the web app puts this into its ETags and cache keys.
RENDERER_VERSION = "1"

MIN_SIZE = 8
MAX_SIZE = 1024
DEFAULT_SIZE = 20

# zlib's level for the PNG. Scaled pixel art is long runs and repeated rows, which the
# default level (6) packs well and fast; 9 saves a few per cent for several times the
# time (bench/renderer_bench.py prints the sizes).
PNG_COMPRESS_LEVEL = 6


def sprite_image(identifier: str) -> Image.Image:
    """The monster at grid resolution: a GRID x GRID palette image, one pixel per cell."""
    traits = traits_for(identifier)
    image = Image.frombytes("P", (GRID, GRID), draw_cells(traits))
    image.putpalette(png_palette(traits.colour, traits.accent))
    image.info["transparency"] = CLEAR
    return image


def _check_dimension(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not MIN_SIZE <= value <= MAX_SIZE:
        raise ValueError(f"{name} must be between {MIN_SIZE} and {MAX_SIZE}, got {value}")


def render_canvas(identifier: str, width: int, height: int) -> bytes:
    """PNG bytes of the monster fitted and centred in a transparent width x height canvas."""
    _check_dimension("width", width)
    _check_dimension("height", height)
    sprite = sprite_image(identifier)
    fit = min(width, height)
    # Whole-number scaling keeps every cell a crisp square; only tiny sizes shrink instead.
    side = GRID * (fit // GRID) if fit >= GRID else fit
    if side != GRID:
        sprite = sprite.resize((side, side), Image.Resampling.NEAREST)
    if width == height == side:
        canvas = sprite
    else:
        canvas = Image.new("P", (width, height), CLEAR)
        canvas.putpalette(sprite.palette)
        canvas.paste(sprite, ((width - side) // 2, (height - side) // 2))
    out = io.BytesIO()
    canvas.save(out, format="PNG", transparency=CLEAR, compress_level=PNG_COMPRESS_LEVEL)
    return out.getvalue()


def render(identifier: str, size: int) -> bytes:
    """PNG bytes of the monster for identifier in a size x size transparent square."""
    return render_canvas(identifier, size, size)
