"""The sprite grid: a square board of cell roles that is always left-right symmetric."""

from __future__ import annotations

from monsters.renderer.palette import BODY, CLEAR, OUTLINE

GRID = 20
HALF = GRID // 2

Grid = list[list[int]]


class Sprite:
    """A GRID x GRID board of cell roles; every write lands on both halves."""

    def __init__(self) -> None:
        self.cells: Grid = [[CLEAR] * GRID for _ in range(GRID)]

    def put(self, x: int, y: int, role: int, *, behind: bool = False) -> None:
        """Set column x (and its mirror) of row y; `behind` only fills empty cells."""
        # The outermost ring stays empty so the outline always fits.
        if not (0 < x < GRID - 1 and 0 < y < GRID - 1):
            return
        if behind and self.cells[y][x] != CLEAR:
            return
        self.cells[y][x] = role
        self.cells[y][GRID - 1 - x] = role

    def span(self, y: int, x0: int, x1: int, role: int, *, behind: bool = False) -> None:
        for x in range(x0, x1 + 1):
            self.put(x, y, role, behind=behind)

    def paint_body(self, x: int, y: int, role: int) -> None:
        """Recolour a cell only where it is plain body, so markings never leak outside."""
        if 0 <= y < GRID and 0 <= x < GRID and self.cells[y][x] == BODY:
            self.put(x, y, role)

    def add_outline(self) -> None:
        """Ring everything drawn with OUTLINE cells: a dark edge reads on any page colour."""
        cells = self.cells
        filled = [[role != CLEAR for role in row] for row in cells]
        last = GRID - 1
        for y in range(GRID):
            for x in range(GRID):
                # Four-neighbour outline: it rounds off corners the way hand-made sprites do.
                if not filled[y][x] and (
                    (y > 0 and filled[y - 1][x])
                    or (y < last and filled[y + 1][x])
                    or (x > 0 and filled[y][x - 1])
                    or (x < last and filled[y][x + 1])
                ):
                    cells[y][x] = OUTLINE
