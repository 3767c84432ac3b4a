"""The monster as lossless WebP: the PNG's exact RGBA pixels, through Pillow's libwebp.

One conversion for every PNG, ours or another renderer's (the web app converts what a
dnmonster answers), so the same PNG always gives the same WebP bytes. Lossless keeps
every pixel; `exact` keeps the colour under transparent pixels too, so a decoder gives
back exactly the PNG's RGBA. Effort 2 of 6 gives the same bytes as the higher efforts
for these pictures at a fraction of the time (about 240 bytes and 0.5 ms at 80 px, 400
bytes and 5 ms at 512 px, where the PNG is 300 bytes and 1 KB).
"""

from __future__ import annotations

import io

from PIL import Image

from renderer.art import render

WEBP_METHOD = 2
# The largest picture a PNG from elsewhere may decode to (the renderer's largest size):
# a small PNG can declare an enormous canvas, and decoding it would fill the memory.
MAX_SIDE = 1024


def webp_from_png(png: bytes, *, max_side: int = MAX_SIDE) -> bytes:
    """Lossless WebP bytes with the pixels of `png`. ValueError when `png` is not a PNG
    that decodes, or declares more than max_side x max_side pixels."""
    try:
        with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
            width, height = image.size
            if width > max_side or height > max_side:
                raise ValueError(f"a PNG of {width} x {height} pixels is larger than we convert")
            pixels = image.convert("RGBA")
    except (OSError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        # What Pillow raises for data that is not a PNG, or a broken or truncated one.
        raise ValueError(f"not a PNG that decodes ({type(exc).__name__})") from exc
    out = io.BytesIO()
    pixels.save(out, "WEBP", lossless=True, exact=True, method=WEBP_METHOD)
    return out.getvalue()


def render_webp(identifier: str, size: int) -> bytes:
    """Lossless WebP bytes of the monster for identifier in a size x size square."""
    return webp_from_png(render(identifier, size))
