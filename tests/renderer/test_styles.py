"""The style registry: one signature for every style the renderer draws."""

from __future__ import annotations

import pytest

import renderer
from renderer import styles


def test_the_monster_style_draws_exactly_the_monster_in_every_format():
    assert styles.draw("monster", "Moby", 80, "png") == renderer.render("Moby", 80)
    assert styles.draw("monster", "Moby", 80, "svg") == renderer.render_svg("Moby", 80)
    assert styles.draw("monster", "Moby", 80, "webp") == renderer.render_webp("Moby", 80)


@pytest.mark.parametrize(("style", "fmt"), [("no-such-style", "png"), ("monster", "gif")])
def test_an_unknown_style_or_format_is_a_value_error_naming_the_choices(style, fmt):
    with pytest.raises(ValueError, match="one of"):
        styles.draw(style, "Moby", 80, fmt)
