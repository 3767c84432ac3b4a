"""The monster as SVG: the PNG's cells, colours and placement, drawn as rectangles.

The picture is the same 20 x 20 grid of cell roles (`draw_cells`) in the same colours
(`role_colours`), placed in the canvas exactly as the PNG places it (`placement`): whole
pixels per cell, centred, transparent around it. So at any size from 20 px up, a browser
that draws it with `shape-rendering="crispEdges"` paints the PNG's pixels.

Every number in the file is exact: the viewBox is the canvas in pixels and one transform
moves and scales the grid (`translate(left top) scale(cell)`), so the rectangles keep
whole-cell coordinates at every size. Each run of one role along a row is one `<rect>`,
and runs that repeat straight down the next rows are one taller `<rect>`; rectangles of
one colour share a `<g fill>`. About 100 rectangles, 3 to 4 KB, the same bytes for the
same identifier and size, always.
"""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal

from renderer.art import check_dimension, placement
from renderer.palette import CLEAR, role_colours
from renderer.parts import draw_cells, traits_for
from renderer.sprite import GRID

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
TITLE = "A monster from Identidock"

# (x, y, width, height) in cells
Rect = tuple[int, int, int, int]


def cell_rects(
    cells: bytes, width: int = GRID, skip: Collection[int] = (CLEAR,)
) -> dict[int, list[Rect]]:
    """The rectangles that cover every cell of each role not in `skip` (the monster's
    CLEAR by default), by role, for `cells` in rows of `width` (the monster's GRID).

    Runs of one role along a row, each merged with the run of the same role, start and
    width in the row above when there is one. Roles and rectangles come in a fixed
    order (role number; top to bottom, left to right), so the output is deterministic.
    The other styles' SVGs use it too (renderer/styles/pixels.py).
    """
    rects: list[list[int]] = []
    roles: list[int] = []
    # (x, width, role) of a run in the row above -> its rectangle, still growing down
    growing: dict[tuple[int, int, int], int] = {}
    for y in range(len(cells) // width):
        row = cells[y * width : (y + 1) * width]
        grown: dict[tuple[int, int, int], int] = {}
        x = 0
        while x < width:
            role, start = row[x], x
            while x < width and row[x] == role:
                x += 1
            if role in skip:
                continue
            run = (start, x - start, role)
            index = growing.get(run)
            if index is None:
                index = len(rects)
                rects.append([start, y, x - start, 0])
                roles.append(role)
            rects[index][3] += 1
            grown[run] = index
        growing = grown
    by_role: dict[int, list[Rect]] = {}
    for role, (x, y, w, h) in sorted(zip(roles, rects, strict=True), key=lambda item: item[0]):
        by_role.setdefault(role, []).append((x, y, w, h))
    return by_role


def _hex(rgba: bytes) -> str:
    return "#" + rgba[:3].hex()


def _grid_transform(size: int) -> str:
    side, left, top = placement(size, size)
    # Whole pixels per cell from 20 px up; below, a fraction with at most two decimals.
    scale = Decimal(side) / GRID
    moves = f"translate({left} {top}) " if left or top else ""
    return f"{moves}scale({scale.normalize():f})"


def render_svg(identifier: str, size: int) -> bytes:
    """SVG bytes of the monster for identifier in a size x size transparent square."""
    check_dimension("size", size)
    traits = traits_for(identifier)
    colours = role_colours(traits.colour, traits.accent)
    parts = [
        f'<svg xmlns="{SVG_NAMESPACE}" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}" shape-rendering="crispEdges">',
        f"<title>{TITLE}</title>",
        f'<g transform="{_grid_transform(size)}">',
    ]
    for role, rects in cell_rects(draw_cells(traits)).items():
        parts.append(f'<g fill="{_hex(colours[role])}">')
        parts.extend(
            f'<rect x="{x}" y="{y}" width="{width}" height="{height}"/>'
            for x, y, width, height in rects
        )
        parts.append("</g>")
    parts.append("</g></svg>\n")
    return "".join(parts).encode("ascii")
