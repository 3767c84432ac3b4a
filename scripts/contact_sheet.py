"""Render 24 sample monsters into one PNG grid, to judge the art at a glance.

Run from the repository root:

    .venv/bin/python scripts/contact_sheet.py [--output docs/contact-sheet.png]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
# Running the file directly puts scripts/ on sys.path, not the repository root.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from renderer import render  # noqa: E402

SALT = "UNIQUE_SALT"  # the original app's default salt, so hashes match the web app's
NAMES = (
    "Joe Bloggs",
    "Moby Dock",
    "김철수",
    "Jane Doe",
    "Ada Lovelace",
    "Alan Turing",
    "Grace Hopper",
    "Linus",
    "Margaret Hamilton",
    "이영희",
    "José Núñez",
    "Zoë",
    "Adrian Mouat",
    "Ken Thompson",
    "Barbara Liskov",
    "田中太郎",
    "Olga",
    "Mohammed Ali",
    "Kubernetes",
    "Redis",
    "Postgres",
    "Django Reinhardt",
    "Chloé",
    "Bob",
)
COLUMNS, ROWS = 6, 4
SIZE = 120
GAP = 12
BACKGROUNDS = {"light": (0xF4, 0xF2, 0xEE, 255), "dark": (0x1E, 0x1E, 0x24, 255)}


def identifier_for(name: str) -> str:
    return hashlib.sha256((SALT + name).encode("utf-8")).hexdigest()


def contact_sheet(names: tuple[str, ...], background: tuple[int, int, int, int]) -> Image.Image:
    width = COLUMNS * SIZE + (COLUMNS + 1) * GAP
    height = ROWS * SIZE + (ROWS + 1) * GAP
    sheet = Image.new("RGBA", (width, height), background)
    for index, name in enumerate(names[: COLUMNS * ROWS]):
        monster = Image.open(io.BytesIO(render(identifier_for(name), SIZE)))
        column, row = index % COLUMNS, index // COLUMNS
        position = (GAP + column * (SIZE + GAP), GAP + row * (SIZE + GAP))
        sheet.alpha_composite(monster.convert("RGBA"), position)
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "contact-sheet.png")
    parser.add_argument("--background", choices=sorted(BACKGROUNDS), default="light")
    args = parser.parse_args()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(NAMES, BACKGROUNDS[args.background]).convert("RGB").save(args.output)


if __name__ == "__main__":
    main()
