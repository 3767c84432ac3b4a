"""The colour palette: every monster stays readable on light and dark pages."""

from __future__ import annotations

from renderer.palette import (
    ACCENT_CHOICES,
    ACCENTS_PER_BODY,
    BODY,
    BODY_COLOURS,
    OUTLINE,
    Rgb,
    role_colours,
)

WHITE_PAGE: Rgb = (255, 255, 255)
DARK_PAGE: Rgb = (0x12, 0x12, 0x12)


def luminance(rgb: Rgb) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: Rgb, b: Rgb) -> float:
    """WCAG contrast ratio."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def rgb_of(role_rgba: bytes) -> Rgb:
    return (role_rgba[0], role_rgba[1], role_rgba[2])


def test_every_body_colour_stands_out_on_a_dark_page() -> None:
    for body in BODY_COLOURS:
        assert contrast(body, DARK_PAGE) >= 3, body


def test_every_outline_stands_out_on_a_white_page() -> None:
    for index in range(len(BODY_COLOURS)):
        outline = rgb_of(role_colours(index, 0)[OUTLINE])
        assert contrast(outline, WHITE_PAGE) >= 7, outline


def test_every_body_colour_has_its_own_distinct_accents() -> None:
    for body, accents in zip(BODY_COLOURS, ACCENT_CHOICES, strict=True):
        assert len(set(accents)) == ACCENTS_PER_BODY
        assert body not in accents


def test_role_colours_are_opaque_and_body_matches_the_choice() -> None:
    colours = role_colours(3, 2)
    assert rgb_of(colours[BODY]) == BODY_COLOURS[3]
    assert all(colour[3] == 255 for colour in colours[1:])
    assert colours[0] == b"\x00\x00\x00\x00"
