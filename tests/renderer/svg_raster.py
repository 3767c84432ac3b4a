"""A rasteriser for exactly the SVG our renderer writes, so tests can compare its pixels
with the PNG's in Python (the browser suite compares them in Chromium too).

It reads the file as XML and paints what it says: the canvas from `width`/`height`, the
grid's `translate(left top) scale(cell)`, and each `<rect>` of each `<g fill>`. It
accepts nothing else, so a change in the file's shape fails loudly here rather than
being drawn some other way. The further styles' SVGs (renderer/styles/pixels.py) may add
a full-canvas background `<rect>` before the grid, or have no title or no grid at all.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

from PIL import Image, ImageDraw

SVG = "{http://www.w3.org/2000/svg}"
_GRID_TRANSFORM = re.compile(r"(?:translate\((\d+) (\d+)\) )?scale\((\d+)\)")


def rasterise(svg: bytes) -> Image.Image:
    """The RGBA picture the SVG describes, for whole-pixel cells (20 px and up)."""
    root = ElementTree.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    width, height = int(root.get("width", "")), int(root.get("height", ""))
    assert root.get("viewBox") == f"0 0 {width} {height}"
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    children = list(root)
    # The styles' SVGs: an optional title, an optional full-canvas background, a grid.
    if children and children[0].tag == f"{SVG}title":
        children.pop(0)
    if children and children[0].tag == f"{SVG}rect":
        background = children.pop(0)
        assert background.get("width") == str(width), background.attrib
        assert background.get("height") == str(height), background.attrib
        assert set(background.attrib) == {"width", "height", "fill"}, background.attrib
        draw.rectangle((0, 0, width - 1, height - 1), fill=background.get("fill"))
    if not children:
        return image
    (grid,) = children
    match = _GRID_TRANSFORM.fullmatch(grid.get("transform", ""))
    assert grid.tag == f"{SVG}g" and match, grid.attrib
    left, top, cell = int(match[1] or 0), int(match[2] or 0), int(match[3])
    for group in grid:
        assert group.tag == f"{SVG}g" and set(group.attrib) == {"fill"}
        for rect in group:
            assert rect.tag == f"{SVG}rect"
            x, y, w, h = (int(rect.get(name, "")) for name in ("x", "y", "width", "height"))
            draw.rectangle(
                (
                    left + x * cell,
                    top + y * cell,
                    left + (x + w) * cell - 1,
                    top + (y + h) * cell - 1,
                ),
                fill=group.get("fill"),
            )
    return image
