"""Pin the renderer's pixels: write tests/renderer/pixel_digests.json from the current code.

For every case (an identifier and a canvas width x height) the file holds the first 16 hex
digits of the SHA-256 of the decoded RGBA pixels, so the encoding may change (palette,
compression) while tests/renderer/test_pixel_digests.py proves the pictures did not. The
cases: 1,000 identifiers at the grid's own size, 40 at small and common sizes, three at
every size from 8 to 128 and around every whole-cell step up to 1024, and non-square
canvases. Regenerate only when the art changes on purpose, with a RENDERER_VERSION bump:

    .venv/bin/python scripts/renderer_pixel_digests.py
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
# Running the file directly puts scripts/ on sys.path, not the repository root.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from renderer import MAX_SIZE, MIN_SIZE, RENDERER_VERSION, render_canvas  # noqa: E402
from renderer.sprite import GRID  # noqa: E402

OUTPUT = ROOT / "tests" / "renderer" / "pixel_digests.json"
DIGEST_LENGTH = 16


def pixel_digest(png: bytes) -> str:
    """The pixels' fingerprint: the same however the PNG that carries them is encoded."""
    with Image.open(io.BytesIO(png)) as image:
        pixels = image.convert("RGBA").tobytes()
    return hashlib.sha256(pixels).hexdigest()[:DIGEST_LENGTH]


def cases() -> list[tuple[str, int, int]]:
    many = [f"pixel-{n}" for n in range(1000)]
    odd = [
        hashlib.sha256(b"UNIQUE_SALTJoe Bloggs").hexdigest(),
        ("Az09_.~-" * 16)[:128],
        "a",
        "",
        "김철수",
    ]
    common = [*odd, *(f"size-{n}" for n in range(35))]
    sweep = ["dnmonster", "a", odd[0]]
    steps = sorted(
        {
            side
            for cells in range(1, MAX_SIZE // GRID + 1)
            for side in (GRID * cells - 1, GRID * cells, GRID * cells + 1)
            if MIN_SIZE <= side <= MAX_SIZE
        }
        | {512, MAX_SIZE - 1, MAX_SIZE}
    )
    canvases = [
        (300, 100),
        (80, 200),
        (MIN_SIZE, MAX_SIZE),
        (MAX_SIZE, MIN_SIZE),
        (21, 20),
        (41, 83),
        (19, 500),
        (999, 1000),
        (120, 60),
        (100, 40),
    ]
    found = [(identifier, GRID, GRID) for identifier in [*odd, *many]]
    found += [(i, s, s) for i in common for s in (8, 11, 16, 19, 40, 80, 160)]
    found += [(i, s, s) for i in sweep for s in range(MIN_SIZE, 129)]
    found += [("dnmonster", s, s) for s in steps if s > 128]
    found += [(i, w, h) for i in sweep[:2] for w, h in canvases]
    return list(dict.fromkeys(found))


def main() -> None:
    digests = [
        [identifier, width, height, pixel_digest(render_canvas(identifier, width, height))]
        for identifier, width, height in cases()
    ]
    lines = ",\n".join("    " + json.dumps(entry, ensure_ascii=False) for entry in digests)
    OUTPUT.write_text(
        "{\n"
        f'  "renderer_version": {json.dumps(RENDERER_VERSION)},\n'
        '  "cases": [\n'
        f"{lines}\n"
        "  ]\n"
        "}\n",
        encoding="utf-8",
    )
    print(f"{len(digests)} cases written to {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
