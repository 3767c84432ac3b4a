"""The style registry: one signature for every style the renderer draws, and the styles
drawn on a grid of cells (renderer/styles/pixels.py): identicon, retro, mp, blank."""

from __future__ import annotations

import hashlib
import io
import xml.etree.ElementTree as ElementTree

import pytest
from PIL import Image, ImageChops

import renderer
from renderer import styles
from tests.renderer.svg_raster import rasterise

GRID_STYLES = ["identicon", "retro", "mp", "blank"]
SEEDED = ["identicon", "retro"]  # styles whose picture depends on the seed
FORMATS = ("png", "svg", "webp")
SIZES = [1, 16, 80, 512, 1024]
SEED = hashlib.sha256(b"UNIQUE_SALTJoe Bloggs").hexdigest()


def seed(n: int) -> str:
    return hashlib.sha256(f"style-seed-{n}".encode()).hexdigest()


def rgba(style: str, seed: str, size: int, fmt: str = "png") -> Image.Image:
    data = styles.draw(style, seed, size, fmt)
    if fmt == "svg":
        return rasterise(data)
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGBA")


def test_the_monster_style_draws_exactly_the_monster_in_every_format():
    assert styles.draw("monster", "Moby", 80, "png") == renderer.render("Moby", 80)
    assert styles.draw("monster", "Moby", 80, "svg") == renderer.render_svg("Moby", 80)
    assert styles.draw("monster", "Moby", 80, "webp") == renderer.render_webp("Moby", 80)


@pytest.mark.parametrize(("style", "fmt"), [("no-such-style", "png"), ("monster", "gif")])
def test_an_unknown_style_or_format_is_a_value_error_naming_the_choices(style, fmt):
    with pytest.raises(ValueError, match="one of"):
        styles.draw(style, "Moby", 80, fmt)


@pytest.mark.parametrize("style", GRID_STYLES)
def test_each_style_is_registered_at_version_1(style):
    assert styles.STYLES[style].name == style
    assert styles.STYLES[style].version == 1


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("style", GRID_STYLES)
def test_the_same_seed_and_size_give_the_same_bytes(style, fmt):
    for size in (16, 80):
        assert styles.draw(style, SEED, size, fmt) == styles.draw(style, SEED, size, fmt)


@pytest.mark.parametrize("style", SEEDED)
def test_different_seeds_give_different_pictures(style):
    pictures = {rgba(style, seed(n), 40).tobytes() for n in range(100)}
    assert len(pictures) >= 97
    assert rgba(style, "a", 40).tobytes() != rgba(style, "b", 40).tobytes()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("style", GRID_STYLES)
def test_every_format_is_exactly_the_size_asked(style, size, fmt):
    data = styles.draw(style, SEED, size, fmt)
    if fmt == "svg":
        root = ElementTree.fromstring(data)
        assert (root.get("width"), root.get("height")) == (str(size), str(size))
        assert root.get("viewBox") == f"0 0 {size} {size}"
    else:
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == fmt.upper()
            assert image.size == (size, size)


@pytest.mark.parametrize("size", [0, -1, 1025, 2048, True, 16.0, "16"])
@pytest.mark.parametrize("style", GRID_STYLES)
def test_a_size_outside_1_to_1024_is_a_value_error(style, size):
    for fmt in FORMATS:
        with pytest.raises(ValueError, match="size"):
            styles.draw(style, SEED, size, fmt)


@pytest.mark.parametrize("size", [1, 2, 5, 6, 7, 15, 16, 17, 20, 31, 40, 64, 80, 99, 256, 513])
@pytest.mark.parametrize("style", GRID_STYLES)
def test_the_svg_and_the_webp_show_exactly_the_pngs_pixels(style, size):
    for n in range(3):
        png = rgba(style, seed(n), size)
        assert rasterise(styles.draw(style, seed(n), size, "svg")).tobytes() == png.tobytes()
        assert rgba(style, seed(n), size, "webp").tobytes() == png.tobytes()


# --- identicon ---------------------------------------------------------------------------


def _foreground_box(image: Image.Image) -> Image.Image:
    """The picture cropped to where it is not background (the bottom-right corner's
    colour: the margin's odd pixel, if any, falls right and below)."""
    corner = image.getpixel((image.width - 1, image.height - 1))
    background = Image.new("RGBA", image.size, corner)
    box = ImageChops.difference(image, background).convert("RGB").getbbox()
    assert box is not None, "no foreground"
    return image.crop(box)


@pytest.mark.parametrize("size", [6, 16, 17, 40, 80, 101, 512])
def test_the_identicon_is_left_right_symmetric(size):
    for n in range(20):
        image = rgba("identicon", seed(n), size)
        shape = _foreground_box(image)
        assert shape.tobytes() == shape.transpose(Image.Transpose.FLIP_LEFT_RIGHT).tobytes()
        if (size - 5 * (size // 6)) % 2 == 0:  # the same margin either side: all mirrors
            assert image.tobytes() == image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).tobytes()


@pytest.mark.parametrize("size", [6, 16, 40, 80, 512])
def test_the_identicon_has_exactly_two_opaque_colours_at_every_size(size):
    for n in range(30):
        colours = rgba("identicon", seed(n), size).getcolors()
        assert colours is not None and len(colours) == 2
        assert all(alpha == 255 for _, (_, _, _, alpha) in colours)


def test_the_identicon_keeps_half_a_cell_of_margin_and_whole_pixel_cells_at_16_px():
    # 16 px: 2 px cells, a 10 px pattern, 3 px of tint all round.
    for n in range(30):
        image = rgba("identicon", seed(n), 16)
        background = image.getpixel((0, 0))
        border = [(x, y) for x in range(16) for y in range(16) if min(x, y, 15 - x, 15 - y) < 3]
        assert all(image.getpixel(xy) == background for xy in border)
        for x in range(3, 13, 2):
            for y in range(3, 13, 2):
                block = {image.getpixel((x + dx, y + dy)) for dx in (0, 1) for dy in (0, 1)}
                assert len(block) == 1


def test_the_monsters_version_is_the_renderers_as_a_number():
    assert styles.STYLES["monster"].version == int(renderer.RENDERER_VERSION)


# --- retro -------------------------------------------------------------------------------


def test_the_retro_robot_is_one_pixel_a_cell_at_16_px():
    from renderer.styles import retro

    for n in range(10):
        picture = retro.picture(seed(n))
        image = rgba("retro", seed(n), 16)
        expected = bytes(channel for role in picture.cells for channel in picture.colours[role])
        assert image.tobytes() == expected


@pytest.mark.parametrize("size", [16, 32, 40, 80, 100, 256])
def test_the_retro_robot_is_symmetric_and_stands_on_the_bottom_edge(size):
    for n in range(10):
        image = rgba("retro", seed(n), size)
        if (size - 16 * (size // 16)) % 2 == 0:
            assert image.tobytes() == image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).tobytes()
        tile = image.getpixel((0, 0))
        # The shoulders fill the bottom row's middle: a bust, not a figure on a floor.
        assert image.getpixel((size // 2, size - 1)) != tile
        assert len(image.getcolors() or []) >= 6


# --- mp ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_mystery_person_is_one_picture_whatever_the_seed(fmt):
    for size in (16, 80):
        pictures = {styles.draw("mp", seed, size, fmt) for seed in ("", "a", SEED, seed(1))}
        assert len(pictures) == 1


@pytest.mark.parametrize("size", [8, 16, 20, 33, 64, 65, 80, 128, 512, 1024])
def test_the_mystery_person_is_grey_on_grey_symmetric_and_fills_the_canvas(size):
    image = rgba("mp", SEED, size)
    colours = image.getcolors()
    assert colours is not None and len(colours) == 2
    assert all(max(r, g, b) - min(r, g, b) < 24 for _, (r, g, b, _) in colours)  # greys
    background = image.getpixel((0, 0))
    figure = image.getpixel((size // 2, size - 1))
    assert figure != background  # the shoulders stand on the bottom edge
    head = image.getpixel((size // 2, size * 2 // 5))
    assert head == figure
    # The figure takes most of the canvas's width at every size (no shrunken picture).
    bottom_row = [image.getpixel((x, size - 1)) for x in range(size)]
    assert bottom_row.count(figure) >= size * 0.7
    if (size - size // -(-size // 64) * -(-size // 64)) % 2 == 0:
        assert image.tobytes() == image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).tobytes()


# --- blank -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("size", SIZES)
def test_blank_is_fully_transparent_in_every_format(size, fmt):
    image = rgba("blank", SEED, size, fmt)
    assert image.size == (size, size)
    assert image.getextrema()[3] == (0, 0)


def test_blank_svg_is_empty_but_for_its_size():
    root = ElementTree.fromstring(styles.draw("blank", SEED, 80, "svg"))
    assert len(root) == 0
    assert (root.get("width"), root.get("height")) == ("80", "80")


def test_blank_png_is_a_palette_png_with_alpha():
    with Image.open(io.BytesIO(styles.draw("blank", "a", 512))) as image:
        assert image.mode == "P" and "transparency" in image.info
    assert styles.draw("blank", "a", 512) == styles.draw("blank", "b", 512)
