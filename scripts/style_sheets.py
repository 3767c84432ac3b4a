"""Draw one contact sheet per style into docs/styles/<style>.png, to judge the art at a glance.

Each sheet is 24 seeds (the ids of scripts/contact_sheet.py's names) at 64 px on a light
page, and below them the first six at 16 px, their real size, then four times larger,
so the smallest size is judged too. Run from the repository root:

    .venv/bin/python scripts/style_sheets.py [--output-dir docs/styles] [style ...]
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
# Running the file directly puts scripts/ on sys.path, not the repository root.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from renderer import styles  # noqa: E402
from scripts.contact_sheet import NAMES, identifier_for  # noqa: E402

COLUMNS, ROWS = 8, 3
SIZE = 64
SMALL, ZOOM = 16, 4
GAP = 12
PAGE = (0xF4, 0xF2, 0xEE, 255)


def _picture(style: str, seed: str, size: int) -> Image.Image:
    with Image.open(io.BytesIO(styles.draw(style, seed, size))) as image:
        return image.convert("RGBA")


def style_sheet(style: str) -> Image.Image:
    seeds = [identifier_for(name) for name in NAMES[: COLUMNS * ROWS]]
    width = COLUMNS * SIZE + (COLUMNS + 1) * GAP
    small_row = SMALL * ZOOM
    height = ROWS * SIZE + (ROWS + 1) * GAP + small_row + GAP
    sheet = Image.new("RGBA", (width, height), PAGE)
    for index, seed in enumerate(seeds):
        column, row = index % COLUMNS, index // COLUMNS
        position = (GAP + column * (SIZE + GAP), GAP + row * (SIZE + GAP))
        sheet.alpha_composite(_picture(style, seed, SIZE), position)
    top = GAP + ROWS * (SIZE + GAP)
    x = GAP
    for seed in seeds[:6]:
        small = _picture(style, seed, SMALL)
        sheet.alpha_composite(small, (x, top + (small_row - SMALL) // 2))
        x += SMALL + GAP // 2
    for seed in seeds[:6]:
        if x + small_row > width - GAP:
            break
        big = _picture(style, seed, SMALL).resize((small_row,) * 2, Image.Resampling.NEAREST)
        sheet.alpha_composite(big, (x, top))
        x += small_row + GAP // 2
    return sheet


def main() -> None:
    drawn = [name for name in styles.STYLES if name != styles.MONSTER]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=ROOT / "docs" / "styles")
    parser.add_argument("style", nargs="*", help=f"any of {', '.join(drawn)} (default: all)")
    args = parser.parse_args()
    unknown = set(args.style) - set(drawn)
    if unknown:
        parser.error(f"no style {', '.join(sorted(unknown))}: one of {', '.join(drawn)}")
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for style in args.style or drawn:
        path = args.output_dir / f"{style}.png"
        style_sheet(style).convert("RGB").save(path, optimize=True)
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
