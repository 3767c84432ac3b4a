"""The SVG renderer: the PNG's picture as a few kilobytes of rectangles, the same bytes
every time, and nothing in it that could run."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ElementTree

import pytest
from PIL import Image

from renderer import render, render_svg
from renderer.palette import CLEAR
from renderer.parts import draw_cells, traits_for
from renderer.sprite import GRID
from renderer.svg import cell_rects
from tests.renderer.svg_raster import SVG, rasterise

JOE = "9d19f9f3fabd63c76a2d1408e061de7ae453e8f42488dc5812948081f4035eba"
IDENTIFIERS = [JOE, "dnmonster", "a", *(f"svg-test-{n}" for n in range(20))]


def png_pixels(identifier: str, size: int) -> bytes:
    return Image.open(io.BytesIO(render(identifier, size))).convert("RGBA").tobytes()


def test_the_same_identifier_and_size_give_the_same_bytes():
    assert render_svg(JOE, 80) == render_svg(JOE, 80)
    assert render_svg(JOE, 80) != render_svg("dnmonster", 80)
    assert render_svg(JOE, 80) != render_svg(JOE, 81)


@pytest.mark.parametrize("size", [20, 21, 39, 40, 80, 90, 128, 256, 333, 512, 1024])
def test_it_draws_exactly_the_pixels_of_the_png(size):
    different = [
        identifier
        for identifier in IDENTIFIERS
        if rasterise(render_svg(identifier, size)).tobytes() != png_pixels(identifier, size)
    ]
    assert different == []


def test_it_is_xml_an_svg_document_names_with_its_size_title_and_crisp_edges():
    root = ElementTree.fromstring(render_svg(JOE, 256))
    assert root.tag == f"{SVG}svg"
    assert (root.get("width"), root.get("height")) == ("256", "256")
    assert root.get("viewBox") == "0 0 256 256"
    assert root.get("shape-rendering") == "crispEdges"
    assert root.find(f"{SVG}title").text == "A monster from Identidock"


def test_it_holds_nothing_that_could_run_load_or_style():
    for identifier in IDENTIFIERS:
        for element in ElementTree.fromstring(render_svg(identifier, 80)).iter():
            assert element.tag in {f"{SVG}{tag}" for tag in ("svg", "title", "g", "rect")}
            assert not {"style", "href", "class"} & set(element.attrib)
            assert not any(name.startswith("on") for name in element.attrib)


def test_it_is_a_few_kilobytes_at_most():
    largest = max(len(render_svg(f"size-{n}", 512)) for n in range(300))
    assert largest < 6 * 1024


def test_its_size_in_pixels_does_not_change_its_rectangles():
    def body(svg: bytes) -> bytes:
        return svg[svg.index(b'<g fill="') :]

    assert body(render_svg(JOE, 80)) == body(render_svg(JOE, 512)) == body(render_svg(JOE, 16))


def test_below_20_px_the_whole_grid_is_scaled_down_not_cropped():
    root = ElementTree.fromstring(render_svg(JOE, 16))
    assert root.find(f"{SVG}g").get("transform") == "scale(0.8)"


def test_the_rectangles_cover_every_drawn_cell_exactly_once_in_its_role():
    for identifier in IDENTIFIERS:
        cells = draw_cells(traits_for(identifier))
        painted = [CLEAR] * (GRID * GRID)
        for role, rects in cell_rects(cells).items():
            for x, y, width, height in rects:
                for row in range(y, y + height):
                    for column in range(x, x + width):
                        assert painted[row * GRID + column] == CLEAR, "painted twice"
                        painted[row * GRID + column] = role
        assert bytes(painted) == cells


def test_runs_repeated_down_the_rows_are_one_rectangle():
    cells = bytearray(GRID * GRID)
    for y in (3, 4, 5):
        cells[y * GRID + 2 : y * GRID + 6] = bytes([7] * 4)
    assert cell_rects(bytes(cells)) == {7: [(2, 3, 4, 3)]}


@pytest.mark.parametrize("size", [7, 1025, 0, 80.0, True])
def test_sizes_the_renderer_does_not_draw_are_refused(size):
    with pytest.raises(ValueError, match="size must be"):
        render_svg(JOE, size)
