"""Colours: what each cell role of a sprite looks like for one monster.

Body colours are mid-tones, so they stand out on dark pages, and every monster gets a dark
outline derived from its body colour, so it stands out on white ones. Accents are paired
with each body colour by distance, so the horns and feet never blend into the body.
"""

from __future__ import annotations

from functools import cache

# Cell roles: the sprite grid stores these, the palette gives them colours.
CLEAR = 0
OUTLINE = 1
BODY = 2
SHADE = 3
LIGHT = 4
ACCENT = 5
ACCENT_DARK = 6
WHITE = 7
INK = 8
MOUTH = 9
PINK = 10
BLUSH = 11

Rgb = tuple[int, int, int]

BODY_COLOURS: tuple[Rgb, ...] = (
    (0xF2, 0x76, 0x5E),  # coral
    (0xF2, 0x9B, 0x38),  # tangerine
    (0xE3, 0xB9, 0x2E),  # mustard
    (0x93, 0xC4, 0x47),  # lime
    (0x4F, 0xB0, 0x6D),  # leaf
    (0x2F, 0xB3, 0xA4),  # teal
    (0x4A, 0xA8, 0xE8),  # sky
    (0x5A, 0x7F, 0xE0),  # cornflower
    (0x8A, 0x6E, 0xE0),  # violet
    (0xB0, 0x5F, 0xD0),  # grape
    (0xEE, 0x6F, 0xA8),  # bubblegum
    (0xD9, 0x48, 0x5F),  # raspberry
)

ACCENT_COLOURS: tuple[Rgb, ...] = (
    (0xFF, 0xD8, 0x4A),  # lemon
    (0xFF, 0xF0, 0xC8),  # cream
    (0x8F, 0xF0, 0xC8),  # mint
    (0x9F, 0xD8, 0xFF),  # ice
    (0xC9, 0xB3, 0xFF),  # lavender
    (0xFF, 0x9E, 0xC4),  # candy
    (0xFF, 0x8A, 0x3C),  # orange
    (0xC8, 0xF0, 0x60),  # chartreuse
    (0x4C, 0x5F, 0xD5),  # royal
    (0x9B, 0x4D, 0xCA),  # purple
    (0x3F, 0xA3, 0x4D),  # green
    (0xD2, 0x57, 0x3C),  # brick
)

ACCENTS_PER_BODY = 6

INK_COLOUR: Rgb = (0x23, 0x1A, 0x33)
WHITE_COLOUR: Rgb = (0xFD, 0xFA, 0xF2)
MOUTH_COLOUR: Rgb = (0x6B, 0x1F, 0x3A)
PINK_COLOUR: Rgb = (0xFF, 0x7D, 0x9E)
_OUTLINE_BASE: Rgb = (0x1A, 0x12, 0x26)
_SHADOW_BASE: Rgb = (0x2A, 0x1E, 0x4A)


def mix(a: Rgb, b: Rgb, amount: float) -> Rgb:
    """Blend colour a towards b by amount (0 keeps a, 1 gives b)."""
    red, green, blue = (round(x + (y - x) * amount) for x, y in zip(a, b, strict=True))
    return (red, green, blue)


def _distance(a: Rgb, b: Rgb) -> float:
    # "Redmean" distance: cheap and much closer to perception than plain RGB distance.
    mean_red = (a[0] + b[0]) / 2
    dr, dg, db = (x - y for x, y in zip(a, b, strict=True))
    return (
        (2 + mean_red / 256) * dr * dr + 4 * dg * dg + (2 + (255 - mean_red) / 256) * db * db
    ) ** 0.5


def _accents_for(body: Rgb) -> tuple[Rgb, ...]:
    ranked = sorted(ACCENT_COLOURS, key=lambda accent: -_distance(body, accent))
    return tuple(ranked[:ACCENTS_PER_BODY])


# Worked out once at import: the pairing is part of the art, not of each render.
ACCENT_CHOICES: tuple[tuple[Rgb, ...], ...] = tuple(_accents_for(body) for body in BODY_COLOURS)


def role_colours(body_index: int, accent_index: int) -> tuple[bytes, ...]:
    """RGBA bytes for every cell role of a monster with these colour choices."""
    body = BODY_COLOURS[body_index]
    accent = ACCENT_CHOICES[body_index][accent_index]
    rgb_by_role: dict[int, Rgb] = {
        OUTLINE: mix(body, _OUTLINE_BASE, 0.8),
        BODY: body,
        SHADE: mix(body, _SHADOW_BASE, 0.3),
        LIGHT: mix(body, WHITE_COLOUR, 0.45),
        ACCENT: accent,
        ACCENT_DARK: mix(accent, _SHADOW_BASE, 0.35),
        WHITE: WHITE_COLOUR,
        INK: INK_COLOUR,
        MOUTH: MOUTH_COLOUR,
        PINK: PINK_COLOUR,
        BLUSH: mix(body, PINK_COLOUR, 0.55),
    }
    colours = [b"\x00\x00\x00\x00"] * (BLUSH + 1)
    for role, rgb in rgb_by_role.items():
        colours[role] = bytes((*rgb, 255))
    return tuple(colours)


@cache
def png_palette(body_index: int, accent_index: int) -> bytes:
    """A PNG palette for a monster: entry n is the RGB of role n.

    CLEAR's entry is black; the PNG makes it fully transparent (its tRNS chunk), so the
    picture decodes to exactly the RGBA of `role_colours`. There are only
    len(BODY_COLOURS) x ACCENTS_PER_BODY of them, so each is worked out once per process.
    """
    return b"".join(rgba[:3] for rgba in role_colours(body_index, accent_index))
