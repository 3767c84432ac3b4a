"""The ceiling for bench/renderer_bench.py: a bare WSGI app that answers a fixed PNG.

It does no routing, no validation and no drawing, so under the renderer's gunicorn
config it shows what the HTTP layer alone can serve. The bench writes the PNG (the
renderer's own 80 px monster) to a file and names it in RENDERER_CEILING_PNG.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

BODY = Path(os.environ["RENDERER_CEILING_PNG"]).read_bytes()
HEADERS = [("Content-Type", "image/png"), ("Content-Length", str(len(BODY)))]


def app(environ: dict[str, object], start_response: Callable[..., object]) -> Iterable[bytes]:
    start_response("200 OK", HEADERS)
    return [BODY]
