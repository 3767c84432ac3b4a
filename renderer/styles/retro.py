"""`retro`: a little 8-bit robot, head and shoulders, framed in a tile of its own colour.

A 16 x 16 sprite (one pixel a cell at 16 px), symmetric, built from parts the seed's
SHA-256 picks: a head (box, dome, television, capsule), a face plate (none, light, or a
dark screen the eyes glow on), eyes, a mouth, something on top or at the sides (an
antenna, a crest, a cap, bolts), colours from curated sets, and a chest light. A dark
outline rings it; the tile fills the canvas, so unlike the monster (a creature standing
on transparency) every robot is a square portrait.
"""

from __future__ import annotations

import hashlib

from renderer.styles import register
from renderer.styles.pixels import Picture, Rgba, rgb, seeded_style

NAME = "retro"
VERSION = 1
GRID = 16
LAST = GRID - 1

# Cell roles; the palette gives them colours.
BG, OUTLINE, BODY, SHADE, LIGHT, ACCENT, PLATE, FEATURE, SUIT, GLINT = range(10)

# The head: its top row and, row by row down to row 11, the first column it fills.
HEADS: tuple[tuple[int, tuple[int, ...]], ...] = (
    (3, (4, 3, 3, 3, 3, 3, 3, 3, 4)),  # box
    (2, (6, 4, 3, 3, 3, 3, 3, 3, 3, 4)),  # dome
    (4, (3, 2, 2, 2, 2, 2, 2, 3)),  # television
    (2, (5, 4, 4, 4, 4, 4, 4, 4, 4, 5)),  # capsule
)
HEAD_BOTTOM = 11
EYE_ROW = 6
MOUTH_ROW = 9

BODIES: tuple[str, ...] = (
    "#c3ccd8",  # steel
    "#ef5a4f",  # red
    "#f6c33b",  # yellow
    "#62c46a",  # green
    "#4f9cf0",  # blue
    "#f58c3c",  # orange
    "#a37ae6",  # purple
    "#34c2b0",  # teal
    "#f27eb0",  # pink
)
TILES: tuple[str, ...] = (
    "#263159",  # night
    "#4b2c5e",  # plum
    "#1f4d4a",  # pine
    "#5c2a3a",  # wine
    "#34404f",  # slate
    "#4a3b2a",  # cocoa
)
ACCENTS: tuple[str, ...] = (
    "#ff4f6d",  # cherry
    "#ffd23f",  # gold
    "#57e38f",  # mint
    "#4fd8ff",  # cyan
    "#ff8fd8",  # bubble
    "#ff9a3c",  # tangerine
)
SUITS: tuple[str, ...] = (
    "#3d5bd9",  # cobalt
    "#dfe3ea",  # white
    "#d8473f",  # red
    "#2f9e6e",  # green
    "#f0b429",  # mustard
    "#7b5cd6",  # violet
    "#6b768a",  # gunmetal
)
OUTLINE_COLOUR = "#140f1e"
INK = "#1d1a2b"
SCREEN = "#1a2233"
CREAM = "#f6f1e3"
GLOW = "#8ff7ff"


def _mix(a: Rgba, b: Rgba, amount: float) -> Rgba:
    red, green, blue = (round(x + (y - x) * amount) for x, y in zip(a[:3], b[:3], strict=True))
    return (red, green, blue, 255)


def _distance(a: Rgba, b: Rgba) -> int:
    return sum(abs(x - y) for x, y in zip(a[:3], b[:3], strict=True))


class Sprite:
    """A GRID x GRID board of roles; every write lands on both halves."""

    def __init__(self) -> None:
        self.cells = bytearray(GRID * GRID)

    def put(self, x: int, y: int, role: int) -> None:
        if 0 <= x < GRID and 0 <= y < GRID:
            self.cells[y * GRID + x] = self.cells[y * GRID + LAST - x] = role

    def span(self, y: int, x0: int, x1: int, role: int) -> None:
        for x in range(x0, x1 + 1):
            self.put(x, y, role)

    def at(self, x: int, y: int) -> int:
        return self.cells[y * GRID + x]

    def outline(self) -> None:
        """Ring everything drawn with OUTLINE (four neighbours: soft corners)."""
        ring = [
            (x, y)
            for y in range(GRID)
            for x in range(GRID)
            if self.at(x, y) == BG
            and any(
                0 <= x + dx < GRID and 0 <= y + dy < GRID and self.at(x + dx, y + dy) != BG
                for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))
            )
        ]
        for x, y in ring:
            self.cells[y * GRID + x] = OUTLINE


def _head(sprite: Sprite, shape: int) -> tuple[int, int]:
    """Draw the head; (its top row, its first column at the eyes)."""
    top, starts = HEADS[shape]
    for offset, start in enumerate(starts):
        y = top + offset
        sprite.span(y, start, 7, BODY)
        if offset == 0:
            sprite.span(y, start + 1, 7, LIGHT)  # light from above
        elif y == HEAD_BOTTOM:
            sprite.span(y, start + 1, 7, SHADE)
        else:
            sprite.put(start, y, SHADE if y > EYE_ROW + 1 else BODY)
    return top, starts[EYE_ROW - top]


def _plate(sprite: Sprite, kind: int, side: int) -> int:
    """A face plate (0: none, 1: light, 2: a dark screen); the colour of the features."""
    if kind:
        start = max(4, side + 1)
        for y in range(EYE_ROW - 1, MOUTH_ROW + 1):
            sprite.span(y, start, 7, PLATE)
    return GLINT if kind == 2 else FEATURE


def _eyes(sprite: Sprite, kind: int, ink: int) -> None:
    y = EYE_ROW
    if kind == 0:  # square eyes with a glint
        sprite.span(y, 5, 6, ink)
        sprite.span(y + 1, 5, 6, ink)
        if ink == FEATURE:
            sprite.put(5, y, LIGHT)
    elif kind == 1:  # a visor slot across the face
        sprite.span(y, 4, 7, ink)
        sprite.span(y + 1, 5, 6, ink)
    elif kind == 2:  # one big eye in the middle
        sprite.span(y, 6, 7, ink)
        sprite.span(y + 1, 6, 7, ink)
        sprite.put(7, y + 1, ACCENT)
    elif kind == 3:  # tall eyes, looking in
        sprite.put(5, y - 1, ink)
        sprite.put(5, y, ink)
        sprite.put(5, y + 1, ink)
        sprite.put(6, y + 1, ink)
    else:  # happy arcs
        sprite.put(5, y + 1, ink)
        sprite.put(6, y, ink)
        sprite.put(7, y + 1, ink)


def _mouth(sprite: Sprite, kind: int, ink: int) -> None:
    y = MOUTH_ROW
    if kind == 0:  # a grille
        for x in (5, 7):
            sprite.put(x, y, ink)
        sprite.put(6, y, SHADE)
    elif kind == 1:  # a smile
        sprite.put(5, y - 1, ink)
        sprite.span(y, 6, 7, ink)
    elif kind == 2:  # a straight line
        sprite.span(y, 6, 7, ink)
    else:  # an "o" of surprise, with a tongue
        sprite.span(y - 1, 7, 7, ink)
        sprite.span(y, 7, 7, ACCENT)


def _topping(sprite: Sprite, kind: int, top: int, side: int) -> None:
    if kind == 0:  # an antenna with a lamp
        for y in range(0, top):
            sprite.put(7, y, ACCENT if y < 2 else SHADE)
    elif kind == 1:  # a crest
        for y in range(max(0, top - 3), top):
            sprite.span(y, 6 if y == top - 1 else 7, 7, ACCENT)
    elif kind == 2:  # a cap: a band of colour over the brow
        sprite.cells[top * GRID : (top + 2) * GRID] = bytes(
            ACCENT if role in (BODY, LIGHT, SHADE) else role
            for role in sprite.cells[top * GRID : (top + 2) * GRID]
        )
    elif kind == 3:  # bolts at the temples
        for y in range(EYE_ROW, EYE_ROW + 3):
            sprite.put(side - 1, y, ACCENT)
    else:  # two feelers
        for y in range(1, top):
            sprite.put(5, y, SHADE)
        sprite.put(5, 0, ACCENT)
        sprite.put(4, 1, ACCENT)


def _shoulders(sprite: Sprite) -> None:
    sprite.span(HEAD_BOTTOM + 1, 6, 7, SHADE)  # the neck
    sprite.span(HEAD_BOTTOM + 2, 3, 7, SUIT)
    for y in range(HEAD_BOTTOM + 3, GRID):
        sprite.span(y, 2, 7, SUIT)
    sprite.span(LAST - 1, 7, 7, ACCENT)  # the chest light


def picture(seed: str) -> Picture:
    bits = hashlib.sha256(b"retro\0" + seed.encode("utf-8")).digest()
    sprite = Sprite()
    top, side = _head(sprite, bits[0] % len(HEADS))
    plate = bits[1] % 3
    ink = _plate(sprite, plate, side)
    _eyes(sprite, bits[2] % 5, ink)
    _mouth(sprite, bits[3] % 4, ink)
    _topping(sprite, bits[4] % 5, top, side)
    _shoulders(sprite)
    sprite.outline()

    body = rgb(BODIES[bits[5] % len(BODIES)])
    accents = [rgb(a) for a in ACCENTS if _distance(rgb(a), body) > 160]
    accent = accents[bits[6] % len(accents)]
    tile = rgb(TILES[bits[7] % len(TILES)])
    suits = [rgb(c) for c in SUITS if min(_distance(rgb(c), body), _distance(rgb(c), tile)) > 150]
    suit = suits[bits[8] % len(suits)]
    colours: dict[int, Rgba] = {
        BG: tile,
        OUTLINE: rgb(OUTLINE_COLOUR),
        BODY: body,
        SHADE: _mix(body, rgb("#2a1e4a"), 0.3),
        LIGHT: _mix(body, rgb(CREAM), 0.5),
        ACCENT: accent,
        PLATE: rgb(CREAM if plate == 1 else SCREEN),
        FEATURE: rgb(INK),
        SUIT: suit,
        GLINT: rgb(GLOW),
    }
    return Picture(
        bytes(sprite.cells),
        GRID,
        tuple(colours[role] for role in range(len(colours))),
        background=BG,
        bottom=True,
        title="A retro robot from Identidock",
    )


register(seeded_style(NAME, VERSION, picture))
