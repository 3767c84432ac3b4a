"""The monster renderer: PNG output, determinism, symmetry, variety and size limits."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from math import prod

import pytest
from PIL import Image

from renderer import MAX_SIZE, MIN_SIZE, RENDERER_VERSION, render, render_canvas
from renderer.art import BIT_DEPTH
from renderer.palette import BLUSH, CLEAR, png_palette, role_colours
from renderer.parts import MONSTER_COUNT, OPTION_COUNTS, Traits, draw, traits_for
from renderer.sprite import GRID

SAMPLE_ID = hashlib.sha256(b"UNIQUE_SALTJoe Bloggs").hexdigest()


def decode(png: bytes) -> Image.Image:
    """The picture's RGBA pixels, however the PNG stores them (RGBA, or a palette)."""
    with Image.open(io.BytesIO(png)) as image:
        return image.convert("RGBA")


def sprite_bytes(traits: Traits) -> bytes:
    colours = role_colours(traits.colour, traits.accent)
    return b"".join(colours[role] for row in draw(traits) for role in row)


def test_same_identifier_and_size_give_same_bytes() -> None:
    assert render(SAMPLE_ID, 80) == render(SAMPLE_ID, 80)


@pytest.mark.parametrize("size", [MIN_SIZE, 19, 20, 80, 123, MAX_SIZE])
def test_output_is_a_png_with_transparency_of_exactly_the_requested_size(size: int) -> None:
    png = render(SAMPLE_ID, size)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        assert image.size == (size, size)
        # RGBA, or a palette with a transparent entry: both decode to RGBA pixels.
        assert image.mode == "RGBA" or (image.mode == "P" and "transparency" in image.info)


@pytest.mark.parametrize("size", [MIN_SIZE, 80, 123])
def test_background_and_corners_are_transparent(size: int) -> None:
    image = decode(render(SAMPLE_ID, size))
    last = size - 1
    for corner in [(0, 0), (last, 0), (0, last), (last, last)]:
        pixel = image.getpixel(corner)
        assert isinstance(pixel, tuple)
        assert pixel[3] == 0
    histogram = image.getchannel("A").histogram()
    # Only fully clear background and fully opaque monster: no soft edges from scaling.
    assert {alpha for alpha, count in enumerate(histogram) if count} == {0, 255}


@pytest.mark.parametrize("size", [GRID, 4 * GRID, 7 * GRID, 100])
@pytest.mark.parametrize("name", ["Joe Bloggs", "Moby Dock", "김철수", ""])
def test_monster_is_left_right_symmetric(name: str, size: int) -> None:
    image = decode(render(hashlib.sha256(name.encode()).hexdigest(), size))
    assert image.tobytes() == image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).tobytes()


def test_monster_fills_a_fair_part_of_the_canvas() -> None:
    image = decode(render(SAMPLE_ID, 80))
    opaque = sum(image.getchannel("A").histogram()[1:])
    assert 0.25 * 80 * 80 < opaque < 0.9 * 80 * 80


def test_different_identifiers_give_different_pictures() -> None:
    pictures = {
        decode(render(hashlib.sha256(f"user-{i}".encode()).hexdigest(), 40)).tobytes()
        for i in range(200)
    }
    assert len(pictures) >= 195


def test_any_string_is_a_valid_identifier() -> None:
    for identifier in ["", "x", "Joe Bloggs", "김철수", "\x00\n", "a" * 10_000]:
        assert decode(render(identifier, 40)).size == (40, 40)


def test_there_are_at_least_a_million_distinct_monsters() -> None:
    assert prod(OPTION_COUNTS.values()) == MONSTER_COUNT
    assert MONSTER_COUNT >= 10**6


def test_every_option_of_every_part_changes_the_picture() -> None:
    # The count above only means something if no option is invisible in some company.
    for base in (traits_for(f"base-{i}") for i in range(60)):
        for part, count in OPTION_COUNTS.items():
            pictures = {sprite_bytes(replace(base, **{part: option})) for option in range(count)}
            assert len(pictures) == count, (part, base)


def test_identifiers_spread_over_all_options() -> None:
    seen: dict[str, set[int]] = {part: set() for part in OPTION_COUNTS}
    for i in range(500):
        traits = traits_for(f"spread-{i}")
        for part in OPTION_COUNTS:
            seen[part].add(getattr(traits, part))
    assert {part: len(options) for part, options in seen.items()} == OPTION_COUNTS


@pytest.mark.parametrize("size", [MIN_SIZE - 1, MAX_SIZE + 1, 0, -20, 10**6])
def test_sizes_out_of_range_raise_value_error(size: int) -> None:
    with pytest.raises(ValueError, match="between"):
        render(SAMPLE_ID, size)


@pytest.mark.parametrize(("width", "height"), [(MIN_SIZE - 1, 80), (80, MAX_SIZE + 1)])
def test_canvas_sides_out_of_range_raise_value_error(width: int, height: int) -> None:
    with pytest.raises(ValueError, match="between"):
        render_canvas(SAMPLE_ID, width, height)


def test_non_integer_size_raises_value_error() -> None:
    with pytest.raises(ValueError, match="integer"):
        render(SAMPLE_ID, 80.0)  # type: ignore[arg-type]


def test_non_square_canvas_has_the_requested_size_and_centres_the_monster() -> None:
    image = decode(render_canvas(SAMPLE_ID, 300, 100))
    assert image.size == (300, 100)
    bbox = image.getchannel("A").getbbox()
    assert bbox is not None
    left, top, right, bottom = bbox
    assert left == 300 - right
    # The grid is centred, so the monster is as high as a square render of the short side.
    square = decode(render(SAMPLE_ID, 100))
    assert image.crop((100, 0, 200, 100)).tobytes() == square.tobytes()


def test_tall_canvas_centres_the_monster_vertically() -> None:
    image = decode(render_canvas(SAMPLE_ID, 80, 200))
    assert image.size == (80, 200)
    square = decode(render(SAMPLE_ID, 80))
    assert image.crop((0, 60, 80, 140)).tobytes() == square.tobytes()


def test_scaling_is_by_whole_cells() -> None:
    # At 80 px each grid cell is a crisp 4x4 block: every block is one colour.
    image = decode(render(SAMPLE_ID, 4 * GRID))
    for y in range(0, 4 * GRID, 4):
        for x in range(0, 4 * GRID, 4):
            colors = image.crop((x, y, x + 4, y + 4)).getcolors()
            assert colors is not None
            assert len(colors) == 1


def test_sizes_below_the_grid_still_show_the_monster() -> None:
    image = decode(render(SAMPLE_ID, MIN_SIZE))
    assert image.getchannel("A").getbbox() is not None


def test_every_cell_role_has_an_entry_in_the_png_palette() -> None:
    assert BLUSH < 1 << BIT_DEPTH
    # Entry 0 is the transparent one, and CLEAR pixels pad the rows' filter-type bytes.
    assert CLEAR == 0
    assert len(png_palette(0, 0)) == 3 * (BLUSH + 1)


def test_renderer_version_is_a_short_string() -> None:
    assert isinstance(RENDERER_VERSION, str)
    assert 1 <= len(RENDERER_VERSION) <= 8
