"""Accessibility basics, checked in the browser on the page as it is rendered."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from playwright.sync_api import Locator, Page, expect

from monsters.images import identity

from .contrast import AA_NON_TEXT, AA_TEXT, contrast_ratio, parse_color, worst_contrast
from .pages import submit_name

# The computed colours of an element's text and of every box behind it, innermost first.
_COLOURS = """(el, fromParent) => {
    const layers = [];
    for (let node = fromParent ? el.parentElement : el; node; node = node.parentElement) {
        const style = getComputedStyle(node);
        layers.push({
            backgroundColor: style.backgroundColor,
            backgroundImage: style.backgroundImage,
        });
    }
    return {color: getComputedStyle(el).color, layers: layers};
}"""

_FOCUS_STYLE = """el => {
    const s = getComputedStyle(el);
    return {
        outlineStyle: s.outlineStyle,
        outlineWidth: parseFloat(s.outlineWidth),
        outlineColor: s.outlineColor,
        boxShadow: s.boxShadow,
        borderColor: s.borderColor,
    };
}"""


def test_the_name_box_has_a_label(pages):
    page = pages.open("/")
    field = page.get_by_label("Hello", exact=True)
    expect(field).to_have_attribute("name", "name")
    labels = field.evaluate("input => [...input.labels].map(label => label.textContent.trim())")
    assert labels == ["Hello"]


def test_the_monster_has_alt_text_that_names_it(pages):
    page = pages.open("/")
    expect(page.get_by_role("img", name="The monster for Joe Bloggs")).to_be_visible()


def test_every_image_has_an_alt_attribute(pages):
    page = pages.open("/")
    missing = page.evaluate(
        "[...document.images].filter(img => !img.hasAttribute('alt')).map(img => img.src)"
    )
    assert missing == []


def test_the_page_says_which_language_it_is_in(pages):
    page = pages.open("/")
    assert page.locator("html").get_attribute("lang") == "en"


def test_the_form_is_inside_the_one_main_landmark(pages):
    page = pages.open("/")
    expect(page.get_by_role("main")).to_have_count(1)
    expect(page.get_by_role("main").get_by_label("Hello")).to_have_count(1)


def test_the_page_has_one_top_level_heading(pages):
    page = pages.open("/")
    expect(page.get_by_role("heading", level=1)).to_have_count(1)


def _focus_by_keyboard(page: Page, target: Locator, presses: int = 10) -> None:
    for _ in range(presses):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError("Tab never reached the element")


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(lambda page: page.get_by_role("link", name="Identidock"), id="brand-link"),
        pytest.param(lambda page: page.get_by_label("Hello"), id="name-field"),
        pytest.param(lambda page: page.get_by_role("button"), id="button"),
    ],
)
def test_keyboard_focus_is_clearly_visible(pages, target):
    page = pages.open("/")
    element = target(page)
    unfocused = element.evaluate(_FOCUS_STYLE)
    _focus_by_keyboard(page, element)
    focused = element.evaluate(_FOCUS_STYLE)
    assert focused != unfocused
    assert focused["outlineStyle"] not in ("none", "hidden")
    assert focused["outlineWidth"] >= 2
    # The ring is drawn outside the element, over whatever is behind it.
    behind = element.evaluate(_COLOURS, True)["layers"]
    assert worst_contrast(focused["outlineColor"], behind) >= AA_NON_TEXT


def test_the_name_box_border_stands_out_from_its_background(pages):
    page = pages.open("/")
    field = page.get_by_label("Hello")
    border = parse_color(field.evaluate(_FOCUS_STYLE)["borderColor"])
    background = parse_color(field.evaluate("el => getComputedStyle(el).backgroundColor"))
    assert contrast_ratio(border, background) >= AA_NON_TEXT


TEXT_ON_THE_HOME_PAGE = {
    "brand": ".brand span",
    "headline": ".headline",
    "lede": ".lede",
    "label": "label[for=id_name]",
    "name-tag-subtitle": ".nametag__subtitle",
    "typed-name": "#id_name",
    "button": "button",
    "figcaption": ".monster figcaption",
    "monster-name": ".monster__name",
    "share-link": ".monster__share",
    "footer-title": ".facts strong",
    "footer": ".facts li",
}


def test_all_text_on_the_page_has_a_contrast_of_at_least_4_5_to_1(pages):
    page = pages.open("/")
    assert _unreadable(page, TEXT_ON_THE_HOME_PAGE) == []


MONSTERS_PAGE = f"/m/{identity.hash_name('Joe Bloggs')}"
TEXT_ON_A_MONSTERS_PAGE = {
    "brand": ".brand span",
    "headline": ".headline",
    "lede": ".lede",
    "panel-title": ".panel h2",
    "download-format": ".download strong",
    "download-size": ".download span",
    "snippet-label": ".snippet label",
    "snippet": ".snippet__code",
    "copy-button": "button.copy",
    "again": ".share__again a",
    "footer": ".footer p",
}


def test_all_text_on_a_monsters_page_has_a_contrast_of_at_least_4_5_to_1(pages):
    page = pages.open(MONSTERS_PAGE)
    assert _unreadable(page, TEXT_ON_A_MONSTERS_PAGE) == []


def test_a_monsters_page_has_one_main_one_h1_and_alt_text(pages):
    page = pages.open(MONSTERS_PAGE)
    expect(page.get_by_role("main")).to_have_count(1)
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    expect(page.get_by_role("img", name="A monster from Identidock")).to_be_visible()


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(lambda page: page.locator("a.download").first, id="download-link"),
        pytest.param(lambda page: page.get_by_label("HTML", exact=True), id="snippet"),
        pytest.param(lambda page: page.locator("button.copy").first, id="copy-button"),
        pytest.param(lambda page: page.locator(".share__again a"), id="home-link"),
    ],
)
def test_keyboard_focus_is_clearly_visible_on_a_monsters_page(pages, target):
    page = pages.open(MONSTERS_PAGE)
    element = target(page)
    expect(element).to_be_visible()
    _focus_by_keyboard(page, element, presses=20)
    focused = element.evaluate(_FOCUS_STYLE)
    assert focused["outlineStyle"] not in ("none", "hidden")
    assert focused["outlineWidth"] >= 2
    behind = element.evaluate(_COLOURS, True)["layers"]
    assert worst_contrast(focused["outlineColor"], behind) >= AA_NON_TEXT


def test_the_error_message_has_a_contrast_of_at_least_4_5_to_1(pages):
    page = pages.open("/")
    pages.watch(page).expect_document_status(HTTPStatus.BAD_REQUEST)
    submit_name(page, "")
    assert _unreadable(page, {"error": "#id_name_error"}) == []


def _unreadable(page: Page, selectors: dict[str, str]) -> list[str]:
    """Every element whose text falls below AA contrast anywhere over its background."""
    failures = []
    for what, selector in selectors.items():
        elements = page.locator(selector)
        expect(elements.first).to_be_visible()
        for element in elements.all():
            colours = element.evaluate(_COLOURS, False)
            ratio = worst_contrast(colours["color"], colours["layers"])
            if ratio < AA_TEXT:
                failures.append(f"{what} {element.inner_text()[:40]!r}: {ratio:.2f}:1")
    return failures
