"""The decoded pixels of ~2,000 renders match digests pinned from the renderer's first release.

However the PNG is encoded (RGBA or palette, any compression), the picture inside must
stay the same: at every size from 8 to 128, around every whole-cell step up to 1024, for
1,000 identifiers at the grid's own size and on non-square canvases. The digests come
from scripts/renderer_pixel_digests.py, run on the renderer before any speed work; if the
art changes on purpose, bump RENDERER_VERSION and run it again.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from renderer import RENDERER_VERSION, render_canvas

PINNED = json.loads((Path(__file__).parent / "pixel_digests.json").read_text(encoding="utf-8"))
CASES: list[tuple[str, int, int, str]] = [tuple(case) for case in PINNED["cases"]]


def pixel_digest(png: bytes) -> str:
    with Image.open(io.BytesIO(png)) as image:
        pixels = image.convert("RGBA").tobytes()
    return hashlib.sha256(pixels).hexdigest()[:16]


def test_digests_belong_to_the_current_renderer_version() -> None:
    assert PINNED["renderer_version"] == RENDERER_VERSION


def test_every_pinned_render_decodes_to_the_same_pixels() -> None:
    # One test, many cases: a thousand parametrized tests would mostly report noise.
    different = [
        (identifier, width, height)
        for identifier, width, height, digest in CASES
        if pixel_digest(render_canvas(identifier, width, height)) != digest
    ]
    assert not different, f"{len(different)} of {len(CASES)} renders changed: {different[:10]}"


@pytest.mark.parametrize("size", [8, 19, 20, 80, 512, 1024])
def test_sizes_pinned_include_the_edges(size: int) -> None:
    assert ("dnmonster", size, size) in {case[:3] for case in CASES}
