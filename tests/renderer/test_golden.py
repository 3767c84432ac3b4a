"""Golden pictures: the exact pixels of five monsters at 80 px, and their exact SVGs.

If this fails because the art changed on purpose, bump RENDERER_VERSION in
renderer/art.py (the web app puts it into ETags and cache keys, so cached images
are replaced), update the pins below and rewrite the golden SVGs
(`scripts/golden_svgs.py`). If the art did not change on purpose, find out why.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from renderer import RENDERER_VERSION, render, render_svg

PINNED_VERSION = "1"
# identifier -> sha256 of the decoded RGBA pixels at size 80
PINNED = {
    # sha256("UNIQUE_SALTJoe Bloggs")
    "9d19f9f3fabd63c76a2d1408e061de7ae453e8f42488dc5812948081f4035eba": (
        "67c4b9fc775b2eac7f991f0e8a6e8d02afcb0d0e82590103ec1d22f4580bbb05"
    ),
    # sha256("UNIQUE_SALTMoby Dock")
    "e42fa5763f232a090b14609233d3689f4e8da3e03c8b3e218b494b61b3960ec6": (
        "e8cf8b50af0665847c29dcbd447b17f3592a3848f405178f52f7212546d97f77"
    ),
    # sha256("UNIQUE_SALT김철수")
    "186443db2ad2f324c0fdb72f819f8557f69a63b06741a156726a053fea7b5d12": (
        "7fdf087ee5374fdf0adffab16cec2ee582c86a1211d1c5b6c5d956cbe7a589ac"
    ),
    # a plain word
    "dnmonster": "7d5895d465528682974a1dd434f54e341fd2385c0d70b27e98ff4c821070615b",
    # one character
    "a": "d0470bb8ee2544c5b3fcae94c9c350470d922e83b20ef9b0e94b070b0bd82931",
}
GOLDEN_SVGS = Path(__file__).parent / "golden"
GOLDEN_SVG_SIZE = 80


def golden_svg_path(identifier: str) -> Path:
    return GOLDEN_SVGS / f"{identifier}.svg"


def test_pins_belong_to_the_current_renderer_version() -> None:
    assert RENDERER_VERSION == PINNED_VERSION


@pytest.mark.parametrize(("identifier", "pixels_sha256"), sorted(PINNED.items()))
def test_monster_pixels_match_the_pinned_art(identifier: str, pixels_sha256: str) -> None:
    pixels = Image.open(io.BytesIO(render(identifier, 80))).convert("RGBA").tobytes()
    assert hashlib.sha256(pixels).hexdigest() == pixels_sha256


@pytest.mark.parametrize("identifier", sorted(PINNED))
def test_monster_svg_matches_the_golden_file_byte_for_byte(identifier: str) -> None:
    golden = golden_svg_path(identifier).read_bytes()
    assert render_svg(identifier, GOLDEN_SVG_SIZE) == golden


def test_every_golden_svg_belongs_to_a_pinned_monster() -> None:
    assert sorted(path.stem for path in GOLDEN_SVGS.glob("*.svg")) == sorted(PINNED)
