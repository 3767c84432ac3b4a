"""Pin the styles' pixels: write tests/renderer/style_pixel_digests.json from the current code.

For every style but the monster (pinned by scripts/renderer_pixel_digests.py), a handful
of seeds at sizes from 1 to 1024, in each format: the first 16 hex digits of the SHA-256
of the decoded RGBA pixels (the SVG rasterised by tests/renderer/svg_raster.py), so the
encoding may change while tests/renderer/test_style_pixel_digests.py proves the pictures
did not. Regenerate only when a style's art changes on purpose, with its VERSION bumped:

    .venv/bin/python scripts/style_pixel_digests.py
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

from renderer import styles  # noqa: E402
from tests.renderer.svg_raster import rasterise  # noqa: E402

OUTPUT = ROOT / "tests" / "renderer" / "style_pixel_digests.json"
DIGEST_LENGTH = 16
STYLES = ("identicon", "retro", "mp", "blank")
SEEDS = (
    hashlib.sha256(b"UNIQUE_SALTJoe Bloggs").hexdigest(),
    hashlib.sha256(b"UNIQUE_SALTMoby Dock").hexdigest(),
    "0" * 64,
    "f" * 64,
    "d41d8cd98f00b204e9800998ecf8427e",  # an MD5: what most Gravatar clients send
    "a",
)
SIZES = (1, 5, 16, 17, 24, 40, 64, 80, 100, 128, 256, 512, 1024)


def pixels(style: str, seed: str, size: int, fmt: str) -> bytes:
    data = styles.draw(style, seed, size, fmt)
    if fmt == "svg":
        return rasterise(data).tobytes()
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGBA").tobytes()


def digest(style: str, seed: str, size: int, fmt: str) -> str:
    """The pixels' fingerprint: the same however the file that carries them is encoded."""
    return hashlib.sha256(pixels(style, seed, size, fmt)).hexdigest()[:DIGEST_LENGTH]


def cases() -> list[tuple[str, str, int, str]]:
    found = [(style, seed, size, "png") for style in STYLES for seed in SEEDS for size in SIZES]
    # The other formats, for the first seed: they must decode to the very same pixels.
    found += [(s, SEEDS[0], size, f) for s in STYLES for size in SIZES for f in ("svg", "webp")]
    return found


def main() -> None:
    entries = [[*case, digest(*case)] for case in cases()]
    lines = ",\n".join("    " + json.dumps(entry) for entry in entries)
    versions = {style: styles.STYLES[style].version for style in STYLES}
    OUTPUT.write_text(
        f'{{\n  "versions": {json.dumps(versions)},\n  "cases": [\n{lines}\n  ]\n}}\n',
        encoding="utf-8",
    )
    print(f"{len(entries)} cases written to {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
