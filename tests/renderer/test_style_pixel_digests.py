"""The styles' decoded pixels match digests pinned when each style was drawn.

The cases (six seeds at thirteen sizes from 1 to 1024 per style, and the SVG and WebP
of one seed at every size) and their digests come from scripts/style_pixel_digests.py.
If a style's art changes on purpose, bump its VERSION and run the script again.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from renderer import styles
from scripts.style_pixel_digests import STYLES, digest

PINNED = json.loads(
    (Path(__file__).parent / "style_pixel_digests.json").read_text(encoding="utf-8")
)
CASES: list[tuple[str, str, int, str, str]] = [tuple(case) for case in PINNED["cases"]]


def test_digests_belong_to_the_current_style_versions() -> None:
    assert PINNED["versions"] == {style: styles.STYLES[style].version for style in STYLES}


@pytest.mark.parametrize("style", STYLES)
def test_every_pinned_picture_decodes_to_the_same_pixels(style: str) -> None:
    mine = [case for case in CASES if case[0] == style]
    assert len(mine) >= 100
    different = [case[:4] for case in mine if digest(*case[:4]) != case[4]]
    assert not different, f"{len(different)} of {len(mine)} pictures changed: {different[:10]}"


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("size", [1, 16, 80, 512, 1024])
def test_sizes_pinned_include_the_edges(style: str, size: int) -> None:
    pinned = {(case[0], case[2], case[3]) for case in CASES}
    assert {(style, size, fmt) for fmt in ("png", "svg", "webp")} <= pinned
