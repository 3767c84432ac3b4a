"""Pin the SVGs: write tests/renderer/golden/<identifier>.svg for the golden monsters.

The five monsters whose PNG pixels tests/renderer/test_golden.py pins, as SVG at 80 px,
byte for byte. Regenerate only when the art changes on purpose, with a RENDERER_VERSION
bump (and look at the files: each is the monster, in any browser):

    .venv/bin/python scripts/golden_svgs.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Running the file directly puts scripts/ on sys.path, not the repository root.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from renderer import render_svg  # noqa: E402
from tests.renderer.test_golden import GOLDEN_SVG_SIZE, PINNED, golden_svg_path  # noqa: E402


def main() -> None:
    for identifier in sorted(PINNED):
        path = golden_svg_path(identifier)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(render_svg(identifier, GOLDEN_SVG_SIZE))
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
