"""Identidock's own pixel-art monsters, plus a dnmonster-compatible WSGI app (`wsgi.py`).

One picture, three formats: `render` (PNG, `art.py`), `render_svg` (`svg.py`) and
`render_webp` (`webp.py`), all drawn from the same cells, colours and placement.
Nothing here imports Django: the renderer runs in-process or as its own service.
"""

from __future__ import annotations

from renderer.art import DEFAULT_SIZE, MAX_SIZE, MIN_SIZE, RENDERER_VERSION, render, render_canvas
from renderer.svg import render_svg
from renderer.webp import render_webp, webp_from_png

__all__ = [
    "DEFAULT_SIZE",
    "MAX_SIZE",
    "MIN_SIZE",
    "RENDERER_VERSION",
    "render",
    "render_canvas",
    "render_svg",
    "render_webp",
    "webp_from_png",
]
