"""Monster anatomy: choose parts from an identifier's hash and draw them on a sprite grid.

A monster is one choice from each of these option lists:

    bodies 8 x eyes 8 x mouths 8 x tops 8 x arms 6 x legs 6 x patterns 4 x cheeks 2
    x body colours 12 x accent colours 6  =  84,934,656 distinct monsters

(`MONSTER_COUNT`). Every option leaves a visible mark whatever the other choices are
(the accent colour shows because every kind of leg uses it; tests/renderer/test_art.py
checks the rest), so the count is of different pictures, not just of combinations.
Drawing goes through `Sprite.put`, which mirrors every cell, so every monster is exactly
left-right symmetric by construction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from math import prod

from renderer.palette import (
    ACCENT,
    ACCENT_DARK,
    ACCENTS_PER_BODY,
    BLUSH,
    BODY,
    BODY_COLOURS,
    INK,
    LIGHT,
    MOUTH,
    PINK,
    SHADE,
    WHITE,
)
from renderer.sprite import HALF, Grid, Sprite

BOTTOM = 15  # last body row; the legs live in the rows below it


@dataclass(frozen=True)
class Body:
    """A body outline as half-widths per row, from `top` down to BOTTOM, plus face rows."""

    top: int
    widths: tuple[int, ...]
    eye_y: int
    mouth_y: int

    def half_width(self, y: int) -> int:
        return self.widths[y - self.top] if self.top <= y <= BOTTOM else 0

    def edge(self, y: int) -> int:
        """The leftmost body column on row y."""
        return HALF - self.half_width(y)

    def surface(self, x: int) -> int:
        """The topmost body row that covers column x (left half)."""
        for y in range(self.top, BOTTOM + 1):
            if self.edge(y) <= x:
                return y
        return BOTTOM


BODIES: tuple[Body, ...] = (
    Body(5, (3, 5, 6, 7, 7, 7, 7, 7, 7, 6, 5), eye_y=8, mouth_y=11),  # round
    Body(5, (6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6), eye_y=8, mouth_y=11),  # box
    Body(4, (3, 4, 5, 5, 6, 6, 7, 7, 7, 7, 7, 6), eye_y=8, mouth_y=11),  # pear
    Body(3, (4, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 5), eye_y=6, mouth_y=9),  # tall
    Body(7, (5, 6, 7, 7, 7, 7, 7, 7, 6), eye_y=9, mouth_y=12),  # squat
    Body(3, (1, 2, 3, 4, 5, 6, 6, 7, 7, 7, 7, 6, 5), eye_y=9, mouth_y=12),  # onion
    Body(4, (2, 3, 4, 5, 6, 7, 7, 7, 6, 5, 4, 3), eye_y=8, mouth_y=11),  # gem
    Body(4, (5, 6, 7, 7, 7, 7, 7, 6, 5, 5, 5, 5), eye_y=7, mouth_y=10),  # big head
)

Part = Callable[[Sprite, Body], None]


def nothing(s: Sprite, b: Body) -> None:
    """The option of leaving a part out (no horns, no arms, no markings)."""


def draw_body(s: Sprite, b: Body) -> None:
    for y in range(b.top, BOTTOM + 1):
        s.span(y, b.edge(y), HALF - 1, BODY)
    # Shade the underside: the cells with no body below them.
    for y in range(b.top, BOTTOM + 1):
        for x in range(b.edge(y), HALF):
            if y == BOTTOM or x < b.edge(y + 1):
                s.put(x, y, SHADE)
    # A glint on the upper shoulders reads as a rounded, shiny body.
    s.paint_body(b.edge(b.top + 1) + 1, b.top + 1, LIGHT)
    s.paint_body(b.edge(b.top + 2) + 1, b.top + 2, LIGHT)


# Eyes: drawn around b.eye_y, columns 5..9 of the left half.


def eyes_dots(s: Sprite, b: Body) -> None:
    y = b.eye_y
    s.put(7, y, INK)
    s.put(7, y + 1, INK)


def eyes_round(s: Sprite, b: Body) -> None:
    y = b.eye_y
    for row in (y - 1, y, y + 1):
        s.span(row, 6, 7, WHITE)
    s.put(7, y, INK)
    s.put(7, y + 1, INK)


def eyes_big(s: Sprite, b: Body) -> None:
    y = b.eye_y
    for row in (y - 1, y, y + 1):
        s.span(row, 5, 7, WHITE)
    s.put(7, y, INK)
    s.span(y + 1, 6, 7, INK)


def eyes_cyclops(s: Sprite, b: Body) -> None:
    y = b.eye_y - 1  # one row up, so the big eye never touches the mouth
    s.span(y - 1, 8, 9, WHITE)
    s.span(y, 7, 9, WHITE)
    s.span(y + 1, 7, 9, WHITE)
    s.span(y + 2, 8, 9, WHITE)
    s.put(9, y, INK)
    s.put(9, y + 1, INK)
    s.put(8, y, ACCENT_DARK)
    s.put(8, y + 1, ACCENT_DARK)


def eyes_three(s: Sprite, b: Body) -> None:
    y = b.eye_y
    s.put(9, y - 3, WHITE)
    s.put(9, y - 2, INK)
    s.span(y, 6, 7, WHITE)
    s.put(6, y + 1, WHITE)
    s.put(7, y + 1, INK)


def eyes_happy(s: Sprite, b: Body) -> None:
    y = b.eye_y
    s.put(6, y + 1, INK)
    s.put(7, y, INK)
    s.put(8, y + 1, INK)


def eyes_angry(s: Sprite, b: Body) -> None:
    y = b.eye_y
    s.span(y, 6, 7, WHITE)
    s.span(y + 1, 6, 7, WHITE)
    s.put(7, y + 1, INK)
    s.put(7, y, INK)
    s.span(y - 2, 5, 6, INK)
    s.put(7, y - 1, INK)


def eyes_shades(s: Sprite, b: Body) -> None:
    y = b.eye_y
    s.span(y, 5, 9, INK)
    s.span(y + 1, 6, 8, INK)
    s.put(6, y, WHITE)


EYES: tuple[Part, ...] = (
    eyes_dots,
    eyes_round,
    eyes_big,
    eyes_cyclops,
    eyes_three,
    eyes_happy,
    eyes_angry,
    eyes_shades,
)


# Mouths: drawn from b.mouth_y down, centred.


def mouth_smile(s: Sprite, b: Body) -> None:
    m = b.mouth_y
    s.put(6, m, INK)
    s.span(m + 1, 7, 9, INK)


def mouth_fangs(s: Sprite, b: Body) -> None:
    m = b.mouth_y
    s.span(m, 7, 9, INK)
    s.put(8, m + 1, WHITE)


def mouth_open(s: Sprite, b: Body) -> None:
    m = b.mouth_y
    s.put(9, m, INK)
    s.put(8, m + 1, INK)
    s.put(9, m + 1, MOUTH)
    s.put(9, m + 2, INK)


def mouth_grin(s: Sprite, b: Body) -> None:
    m = b.mouth_y
    s.put(5, m, INK)
    s.span(m, 6, 9, WHITE)
    s.put(6, m + 1, INK)
    s.span(m + 1, 7, 9, MOUTH)
    s.span(m + 2, 7, 9, INK)


def mouth_tongue(s: Sprite, b: Body) -> None:
    m = b.mouth_y
    s.span(m, 7, 9, INK)
    s.put(9, m + 1, PINK)
    s.put(9, m + 2, PINK)


def mouth_zigzag(s: Sprite, b: Body) -> None:
    m = b.mouth_y
    s.put(6, m, INK)
    s.put(7, m + 1, INK)
    s.put(8, m, INK)
    s.put(9, m + 1, INK)


def mouth_buck(s: Sprite, b: Body) -> None:
    m = b.mouth_y
    s.span(m, 7, 9, INK)
    s.put(9, m + 1, WHITE)


def mouth_cat(s: Sprite, b: Body) -> None:
    m = b.mouth_y
    s.put(7, m, INK)
    s.put(8, m + 1, INK)
    s.put(9, m, INK)


MOUTHS: tuple[Part, ...] = (
    mouth_smile,
    mouth_fangs,
    mouth_open,
    mouth_grin,
    mouth_tongue,
    mouth_zigzag,
    mouth_buck,
    mouth_cat,
)


# Tops: horns, hair and friends, standing on the body's upper surface.


def _shoulder(b: Body) -> int:
    """A column on the upper body that is neither at the centre nor off the edge."""
    return min(max(b.edge(b.top) + 1, 4), 7)


def top_horns(s: Sprite, b: Body) -> None:
    x = _shoulder(b)
    y = b.surface(x)
    s.span(y - 1, x, x + 1, ACCENT, behind=True)
    s.put(x, y - 2, ACCENT, behind=True)
    s.put(x - 1, y - 3, ACCENT, behind=True)


def top_ram(s: Sprite, b: Body) -> None:
    y = b.top + 2
    x = b.edge(y)
    s.put(x - 1, y, ACCENT, behind=True)
    s.put(x - 2, y - 1, ACCENT, behind=True)
    s.put(x - 2, y - 2, ACCENT, behind=True)
    s.put(x - 1, y - 3, ACCENT, behind=True)


def top_antennae(s: Sprite, b: Body) -> None:
    x = _shoulder(b) + 1
    y = b.surface(x)
    s.put(x, y - 1, INK, behind=True)
    s.put(x - 1, y - 2, INK, behind=True)
    s.span(y - 3, x - 2, x - 1, ACCENT, behind=True)
    s.span(y - 4, x - 2, x - 1, ACCENT, behind=True)


def top_spikes(s: Sprite, b: Body) -> None:
    for x in range(9, b.edge(b.top + 1), -2):
        y = b.surface(x)
        s.put(x, y - 1, ACCENT, behind=True)
        s.put(x, y - 2, ACCENT, behind=True)


def top_crest(s: Sprite, b: Body) -> None:
    y = b.surface(9)
    s.span(y - 1, 8, 9, ACCENT, behind=True)
    s.put(9, y - 2, ACCENT, behind=True)
    s.put(9, y - 3, ACCENT_DARK, behind=True)


def top_ears(s: Sprite, b: Body) -> None:
    x = _shoulder(b) - 1
    y = b.surface(x + 1)
    s.span(y - 1, x, x + 2, BODY, behind=True)
    s.span(y - 2, x, x + 1, BODY, behind=True)
    s.put(x, y - 3, BODY, behind=True)
    s.put(x + 1, y - 1, PINK)


def top_sprout(s: Sprite, b: Body) -> None:
    y = b.surface(9)
    s.put(9, y - 1, ACCENT_DARK, behind=True)
    s.put(9, y - 2, ACCENT_DARK, behind=True)
    s.span(y - 3, 7, 8, ACCENT, behind=True)
    s.put(8, y - 4, ACCENT, behind=True)


TOPS: tuple[Part, ...] = (
    nothing,
    top_horns,
    top_ram,
    top_antennae,
    top_spikes,
    top_crest,
    top_ears,
    top_sprout,
)


# Arms: at most two cells out from the side, level with the mouth.


def arms_stubby(s: Sprite, b: Body) -> None:
    y = b.mouth_y + 1
    x = b.edge(y)
    s.span(y, x - 2, x - 1, SHADE, behind=True)
    s.put(x - 2, y + 1, ACCENT, behind=True)
    s.put(x - 1, y + 1, SHADE, behind=True)


def arms_raised(s: Sprite, b: Body) -> None:
    y = b.mouth_y + 1
    x = b.edge(y)
    s.put(x - 1, y, SHADE, behind=True)
    s.put(x - 2, y, SHADE, behind=True)
    s.put(x - 2, y - 1, SHADE, behind=True)
    s.put(x - 2, y - 2, ACCENT, behind=True)
    s.put(x - 1, y - 3, ACCENT, behind=True)


def arms_hanging(s: Sprite, b: Body) -> None:
    y = b.mouth_y
    for row in (y, y + 1, y + 2):
        s.put(b.edge(row) - 1, row, SHADE, behind=True)
    s.put(b.edge(y + 2) - 2, y + 2, SHADE, behind=True)
    s.span(y + 3, b.edge(y + 3) - 2, b.edge(y + 3) - 1, ACCENT, behind=True)


def arms_claws(s: Sprite, b: Body) -> None:
    y = b.mouth_y + 1
    x = b.edge(y)
    s.put(x - 1, y, SHADE, behind=True)
    s.put(x - 2, y, ACCENT, behind=True)
    s.put(x - 2, y - 1, ACCENT, behind=True)
    s.put(x - 2, y + 1, ACCENT, behind=True)


def arms_wings(s: Sprite, b: Body) -> None:
    y = b.eye_y
    x = b.edge(y)
    s.span(y - 2, x - 2, x - 1, ACCENT, behind=True)
    s.span(y - 1, x - 2, x - 1, ACCENT, behind=True)
    s.put(x - 1, y, ACCENT, behind=True)
    s.put(x - 2, y - 3, ACCENT_DARK, behind=True)


ARMS: tuple[Part, ...] = (
    nothing,
    arms_stubby,
    arms_raised,
    arms_hanging,
    arms_claws,
    arms_wings,
)


# Legs: rows BOTTOM+1 .. BOTTOM+3. Every kind uses the accent colour (see module docstring).


def _foot_column(b: Body) -> int:
    """Where a two-legged monster's left leg goes: under the body, clear of the centre."""
    return min(b.edge(BOTTOM) + 1, 7)


def legs_stubby(s: Sprite, b: Body) -> None:
    x = _foot_column(b)
    s.span(BOTTOM + 1, x, x + 1, SHADE)
    s.span(BOTTOM + 2, x - 1, x + 1, ACCENT)


def legs_long(s: Sprite, b: Body) -> None:
    x = _foot_column(b) + 1
    s.put(x, BOTTOM + 1, SHADE)
    s.put(x, BOTTOM + 2, SHADE)
    s.span(BOTTOM + 3, x - 1, x, ACCENT)


def legs_pogo(s: Sprite, b: Body) -> None:
    s.span(BOTTOM + 1, 8, 9, SHADE)
    s.put(9, BOTTOM + 2, SHADE)
    s.span(BOTTOM + 3, 7, 9, ACCENT)


def legs_tentacles(s: Sprite, b: Body) -> None:
    for x in range(b.edge(BOTTOM) + 1, HALF, 3):
        s.put(x, BOTTOM + 1, ACCENT)
        s.put(x, BOTTOM + 2, ACCENT)
        # Each tentacle curls away from the centre at its tip.
        s.put(x - 1 if x < HALF - 1 else x, BOTTOM + 3, ACCENT)


def legs_skirt(s: Sprite, b: Body) -> None:
    x = b.edge(BOTTOM)
    # A ghost-like hem instead of legs, with an accent band at the waist.
    s.span(BOTTOM, x, HALF - 1, ACCENT)
    s.span(BOTTOM + 1, x, HALF - 1, BODY)
    for hem in range(x, HALF, 2):
        s.put(hem, BOTTOM + 2, SHADE)


def legs_paws(s: Sprite, b: Body) -> None:
    x = _foot_column(b)
    s.span(BOTTOM + 1, x, x + 1, SHADE)
    s.span(BOTTOM + 2, x - 1, x + 1, ACCENT)
    s.put(x - 1, BOTTOM + 3, WHITE)
    s.put(x + 1, BOTTOM + 3, WHITE)


LEGS: tuple[Part, ...] = (
    legs_stubby,
    legs_long,
    legs_pogo,
    legs_tentacles,
    legs_skirt,
    legs_paws,
)


# Patterns: markings on the lower body, below the mouth and off the centre line.


def pattern_belly(s: Sprite, b: Body) -> None:
    for y in range(b.mouth_y + 2, BOTTOM + 1):
        half = min(4, b.half_width(y) - 2)
        s.span(y, HALF - half, HALF - 1, LIGHT)


def pattern_spots(s: Sprite, b: Body) -> None:
    y = b.mouth_y + 2
    x = b.edge(y) + 1
    s.paint_body(x, y, ACCENT)
    s.paint_body(x + 1, y, ACCENT)
    s.paint_body(x, y + 1, ACCENT)
    y = b.eye_y - 2
    s.paint_body(b.edge(y) + 1, y, ACCENT)
    s.paint_body(b.edge(y) + 2, y, ACCENT)


def pattern_stripes(s: Sprite, b: Body) -> None:
    for y in (b.mouth_y + 1, b.mouth_y + 3):
        x = b.edge(y)
        for cell in (x, x + 1, x + 2):
            s.paint_body(cell, y, ACCENT)


PATTERNS: tuple[Part, ...] = (nothing, pattern_belly, pattern_spots, pattern_stripes)


def cheeks_blush(s: Sprite, b: Body) -> None:
    y = b.mouth_y - 1
    x = b.edge(y) + 1
    s.paint_body(x, y, BLUSH)
    s.paint_body(x + 1, y, BLUSH)


CHEEKS: tuple[Part, ...] = (nothing, cheeks_blush)

# The order matters: it fixes which hash bits pick which part, so it is part of the art.
OPTION_COUNTS: dict[str, int] = {
    "body": len(BODIES),
    "eyes": len(EYES),
    "mouth": len(MOUTHS),
    "top": len(TOPS),
    "arms": len(ARMS),
    "legs": len(LEGS),
    "pattern": len(PATTERNS),
    "cheeks": len(CHEEKS),
    "colour": len(BODY_COLOURS),
    "accent": ACCENTS_PER_BODY,
}

MONSTER_COUNT = prod(OPTION_COUNTS.values())


@dataclass(frozen=True)
class Traits:
    """One monster's choices, as indices into the option lists."""

    body: int
    eyes: int
    mouth: int
    top: int
    arms: int
    legs: int
    pattern: int
    cheeks: int
    colour: int
    accent: int


def traits_for(identifier: str) -> Traits:
    """Pick a monster's parts from the SHA-256 of its identifier."""
    number = int.from_bytes(hashlib.sha256(identifier.encode("utf-8")).digest(), "big")
    picks: dict[str, int] = {}
    # Mixed-radix digits of a 256-bit number: unbiased enough, and every part gets its own.
    for name, count in OPTION_COUNTS.items():
        number, picks[name] = divmod(number, count)
    return Traits(**picks)


def _drawn_body(body: Body) -> bytes:
    sprite = Sprite()
    draw_body(sprite, body)
    return bytes(sprite.cells)


# The body is drawn first, on an empty board, so each one is drawn once, at import.
_DRAWN_BODIES: tuple[bytes, ...] = tuple(_drawn_body(body) for body in BODIES)


def draw_cells(traits: Traits) -> bytes:
    """The sprite's cell roles for these traits, one byte per cell, row by row."""
    sprite = Sprite(_DRAWN_BODIES[traits.body])
    body = BODIES[traits.body]
    PATTERNS[traits.pattern](sprite, body)
    CHEEKS[traits.cheeks](sprite, body)
    EYES[traits.eyes](sprite, body)
    MOUTHS[traits.mouth](sprite, body)
    TOPS[traits.top](sprite, body)
    ARMS[traits.arms](sprite, body)
    LEGS[traits.legs](sprite, body)
    sprite.add_outline()
    return bytes(sprite.cells)


def draw(traits: Traits) -> Grid:
    """The sprite grid of cell roles for these traits, as rows."""
    return Sprite(draw_cells(traits)).rows()
