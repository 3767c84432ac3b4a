"""Draw Identidock's own icons: the monster of the name "Identidock".

Run from the repository root after changing the art (the icons are static files):

    .venv/bin/python scripts/brand_icons.py

Writes monsters/static/monsters/brand-{40,80,180}.png: the masthead mark (40 and its 2x)
and the favicon (40) and home-screen icon (180). Every size is a whole multiple of the
renderer's 20-cell grid, so the pixels stay square.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Running the file directly puts scripts/ on sys.path, not the repository root.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from renderer import render  # noqa: E402

BRAND_NAME = "Identidock"
SALT = "UNIQUE_SALT"  # the default salt, so the brand is the monster the site shows for it
SIZES = (40, 80, 180)
OUTPUT = ROOT / "monsters" / "static" / "monsters"


def main() -> None:
    identifier = hashlib.sha256((SALT + BRAND_NAME).encode("utf-8")).hexdigest()
    for size in SIZES:
        (OUTPUT / f"brand-{size}.png").write_bytes(render(identifier, size))


if __name__ == "__main__":
    main()
