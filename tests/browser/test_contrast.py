"""The WCAG contrast arithmetic the accessibility tests rely on, against known values."""

from __future__ import annotations

import pytest

from .contrast import (
    RGBA,
    backgrounds_behind,
    contrast_ratio,
    gradient_colors,
    parse_color,
    worst_contrast,
)

BLACK, WHITE = RGBA(0, 0, 0), RGBA(255, 255, 255)


def test_black_on_white_is_21_to_1():
    assert contrast_ratio(BLACK, WHITE) == pytest.approx(21.0)


def test_contrast_does_not_depend_on_which_colour_is_the_text():
    grey = RGBA(118, 118, 118)
    assert contrast_ratio(grey, WHITE) == contrast_ratio(WHITE, grey)


@pytest.mark.parametrize(
    "grey, ratio",
    [
        (0x76, 4.54),  # #767676, the lightest grey that passes AA on white
        (0x77, 4.48),  # #777777, the best-known near miss
    ],
)
def test_greys_on_white_match_published_ratios(grey, ratio):
    assert contrast_ratio(RGBA(grey, grey, grey), WHITE) == pytest.approx(ratio, abs=0.01)


@pytest.mark.parametrize(
    "css, expected",
    [
        ("rgb(31, 34, 51)", RGBA(31, 34, 51, 1.0)),
        ("rgba(0, 0, 0, 0)", RGBA(0, 0, 0, 0.0)),
        ("rgb(91 63 209 / 0.06)", RGBA(91, 63, 209, 0.06)),
        ("rgb(91 63 209 / 50%)", RGBA(91, 63, 209, 0.5)),
    ],
)
def test_computed_colours_are_parsed(css, expected):
    assert parse_color(css) == expected


def test_a_colour_the_browser_did_not_compute_to_rgb_is_refused():
    with pytest.raises(ValueError, match="not a computed rgb"):
        parse_color("oklch(70% 0.1 200)")


def test_gradient_stops_are_found_and_pictures_are_refused():
    assert gradient_colors("none") == []
    assert gradient_colors(
        "radial-gradient(at 10% 0%, rgb(236, 230, 255) 0px, rgba(0, 0, 0, 0) 560px)"
    ) == [RGBA(236, 230, 255), RGBA(0, 0, 0, 0)]
    with pytest.raises(ValueError, match="picture"):
        gradient_colors('url("http://localhost/texture.png")')


def test_a_translucent_background_is_blended_over_the_opaque_one_below():
    layers = [
        {"backgroundColor": "rgba(0, 0, 0, 0.5)", "backgroundImage": "none"},
        {"backgroundColor": "rgb(255, 255, 255)", "backgroundImage": "none"},
        {"backgroundColor": "rgb(0, 0, 0)", "backgroundImage": "none"},  # hidden below
    ]
    assert backgrounds_behind(layers) == [RGBA(127.5, 127.5, 127.5)]


def test_with_nothing_opaque_the_white_canvas_shows_through():
    layers = [{"backgroundColor": "rgba(0, 0, 0, 0)", "backgroundImage": "none"}]
    assert backgrounds_behind(layers) == [WHITE]


def test_text_over_a_gradient_is_judged_at_its_worst_stop():
    layers = [
        {
            "backgroundColor": "rgb(255, 255, 255)",
            "backgroundImage": "linear-gradient(rgb(255, 255, 255), rgb(119, 119, 119))",
        }
    ]
    assert worst_contrast("rgb(0, 0, 0)", layers) == pytest.approx(
        contrast_ratio(BLACK, RGBA(119, 119, 119))
    )
