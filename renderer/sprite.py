"""The sprite grid: a square board of cell roles that is always left-right symmetric."""

from __future__ import annotations

from renderer.palette import BODY, CLEAR, OUTLINE

GRID = 20
HALF = GRID // 2
LAST = GRID - 1
CELLS = GRID * GRID

Grid = list[list[int]]

# For the outline, the board is one big integer with a byte per cell (row 0 first), so a
# neighbour is a shift: 8 bits for the next column, 8 * GRID bits for the next row.
_FILLED = bytes([0] + [1] * 255)  # bytes.translate table: any role but CLEAR -> 1
_EVERY_CELL = int.from_bytes(b"\x01" * CELLS, "big")
_NOT_FIRST_COLUMN = int.from_bytes((b"\x00" + b"\x01" * LAST) * GRID, "big")
_NOT_LAST_COLUMN = int.from_bytes((b"\x01" * LAST + b"\x00") * GRID, "big")
_ROW_BITS = 8 * GRID


class Sprite:
    """A GRID x GRID board of cell roles; every write lands on both halves.

    `cells` holds one byte per cell, row by row: the role of column x of row y is
    `cells[y * GRID + x]`.
    """

    def __init__(self, cells: bytes = bytes(CELLS)) -> None:
        self.cells = bytearray(cells)

    def put(self, x: int, y: int, role: int, *, behind: bool = False) -> None:
        """Set column x (and its mirror) of row y; `behind` only fills empty cells."""
        # The outermost ring stays empty so the outline always fits.
        if not (0 < x < LAST and 0 < y < LAST):
            return
        row = y * GRID
        if behind and self.cells[row + x] != CLEAR:
            return
        self.cells[row + x] = role
        self.cells[row + LAST - x] = role

    def span(self, y: int, x0: int, x1: int, role: int, *, behind: bool = False) -> None:
        for x in range(x0, x1 + 1):
            self.put(x, y, role, behind=behind)

    def paint_body(self, x: int, y: int, role: int) -> None:
        """Recolour a cell only where it is plain body, so markings never leak outside."""
        if 0 <= y < GRID and 0 <= x < GRID and self.cells[y * GRID + x] == BODY:
            self.put(x, y, role)

    def add_outline(self) -> None:
        """Ring everything drawn with OUTLINE cells: a dark edge reads on any page colour."""
        filled = int.from_bytes(self.cells.translate(_FILLED), "big")
        # Four-neighbour outline: it rounds off corners the way hand-made sprites do.
        touching = (
            (filled >> _ROW_BITS)  # the cell above is filled
            | (filled << _ROW_BITS)  # the cell below
            | ((filled >> 8) & _NOT_FIRST_COLUMN)  # the cell to the left
            | ((filled << 8) & _NOT_LAST_COLUMN)  # the cell to the right
        )
        outline = touching & ~filled & _EVERY_CELL
        # Outline cells are CLEAR (zero) before, so adding their role sets them.
        cells = int.from_bytes(self.cells, "big") + outline * OUTLINE
        self.cells[:] = cells.to_bytes(CELLS, "big")

    def rows(self) -> Grid:
        """The board as a list of rows of roles."""
        return [list(self.cells[y : y + GRID]) for y in range(0, CELLS, GRID)]
