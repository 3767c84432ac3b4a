"""Turn an identifier into PNG bytes: sprite grid -> colours -> crisp scaling -> PNG."""

from __future__ import annotations

import io

from PIL import Image

from monsters.renderer.palette import role_colours
from monsters.renderer.parts import draw, traits_for
from monsters.renderer.sprite import GRID

# Bump whenever the pictures change: the web app puts this into its ETags and cache keys.
RENDERER_VERSION = "1"

MIN_SIZE = 8
MAX_SIZE = 1024
DEFAULT_SIZE = 20


def sprite_image(identifier: str) -> Image.Image:
    """The monster at grid resolution (GRID x GRID, RGBA, one pixel per cell)."""
    traits = traits_for(identifier)
    colours = role_colours(traits.colour, traits.accent)
    cells = draw(traits)
    data = b"".join(colours[role] for row in cells for role in row)
    return Image.frombytes("RGBA", (GRID, GRID), data)


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
    canvas = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    canvas.paste(sprite, ((width - side) // 2, (height - side) // 2))
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return out.getvalue()


def render(identifier: str, size: int) -> bytes:
    """PNG bytes of the monster for identifier in a size x size transparent square."""
    return render_canvas(identifier, size, size)
