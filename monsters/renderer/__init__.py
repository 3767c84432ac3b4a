"""Identidock's own pixel-art monsters, plus a dnmonster-compatible WSGI app (`wsgi.py`).

Nothing here imports Django: the renderer runs in-process or as its own service.
"""

from __future__ import annotations

from monsters.renderer.art import (
    DEFAULT_SIZE,
    MAX_SIZE,
    MIN_SIZE,
    RENDERER_VERSION,
    render,
    render_canvas,
)

__all__ = [
    "DEFAULT_SIZE",
    "MAX_SIZE",
    "MIN_SIZE",
    "RENDERER_VERSION",
    "render",
    "render_canvas",
]
