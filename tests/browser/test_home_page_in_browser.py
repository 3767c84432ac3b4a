"""The home page in a real browser, used the way a person uses it."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from playwright.sync_api import expect

from monsters.models import Generation

from .pages import PHONE, monster, monster_state, submit_name

XSS_NAME = '"><b>TEST</b><!--'


def test_joe_bloggs_is_in_the_box_and_his_monster_has_loaded(pages, renderer_server):
    page = pages.open("/")
    expect(page.get_by_label("Hello")).to_have_value("Joe Bloggs")
    state = monster_state(page)
    assert state["complete"]
    assert state["naturalWidth"] > 0
    # Drawn by the real renderer over HTTP, recorded in PostgreSQL.
    assert renderer_server.count >= 1
    assert Generation.objects.filter(source="dnmonster").exists()


def test_submitting_a_name_changes_the_monster_and_keeps_the_name(pages):
    page = pages.open("/")
    before = monster_state(page)
    submit_name(page, "Ada Lovelace")
    after = monster_state(page)
    expect(page.get_by_label("Hello")).to_have_value("Ada Lovelace")
    assert after["complete"] and after["naturalWidth"] > 0
    assert after["src"] != before["src"]
    assert after["pixels"] != before["pixels"]


def test_empty_name_shows_the_error_next_to_the_field_and_no_broken_image(pages):
    page = pages.open("/")
    pages.watch(page).expect_document_status(HTTPStatus.BAD_REQUEST)
    submit_name(page, "")
    field = page.get_by_label("Hello")
    error = page.locator("#id_name_error")
    expect(error).to_be_visible()
    expect(error).to_have_text("Please type a name.")
    expect(field).to_have_attribute("aria-describedby", "id_name_error")
    field_box, error_box = field.bounding_box(), error.bounding_box()
    # Right under the field, not somewhere else on the page.
    assert 0 <= error_box["y"] - (field_box["y"] + field_box["height"]) < 40
    assert abs(error_box["x"] - field_box["x"]) < 40
    expect(monster(page)).to_have_count(0)
    broken = page.evaluate(
        "[...document.images].filter(img => !img.complete || img.naturalWidth === 0).length"
    )
    assert broken == 0


def test_markup_in_a_name_is_shown_as_text_not_run_as_html(pages):
    page = pages.open("/")
    submit_name(page, XSS_NAME)
    assert page.locator("b").count() == 0
    expect(page.get_by_label("Hello")).to_have_value(XSS_NAME)
    expect(page.locator(".monster__name")).to_have_text(XSS_NAME)
    expect(monster(page)).to_have_attribute("alt", f"The monster for {XSS_NAME}")


def _focused(page) -> str:
    """The focused control, as a keyboard user would name it: its field name or text."""
    return page.evaluate("(el => el.name || el.textContent.trim())(document.activeElement)")


def _tab_until(page, wanted: str, presses: int = 10) -> list[str]:
    """Press Tab until `wanted` has focus; every stop on the way, in order."""
    reached = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        reached.append(_focused(page))
        if reached[-1] == wanted:
            return reached
    raise AssertionError(f"Tab never reached {wanted!r}, only {reached}")


def test_tab_reaches_the_field_and_then_the_button(pages):
    page = pages.open("/")
    reached = _tab_until(page, "Show my monster")
    assert "name" in reached
    assert reached.index("name") < reached.index("Show my monster")


@pytest.mark.parametrize("enter_on", ["name", "Show my monster"], ids=["field", "button"])
def test_enter_submits_the_typed_name_from_the_field_or_the_button(pages, enter_on):
    page = pages.open("/")
    before = monster_state(page)
    _tab_until(page, "name")
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type("Grace Hopper")
    if enter_on != "name":
        _tab_until(page, enter_on)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_label("Hello")).to_have_value("Grace Hopper")
    after = monster_state(page)
    assert after["complete"] and after["naturalWidth"] > 0
    assert after["src"] != before["src"]


def test_on_a_phone_nothing_scrolls_sideways_and_the_monster_is_fully_visible(pages):
    page = pages.open("/", device=PHONE)
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    state = monster_state(page)
    assert state["complete"] and state["naturalWidth"] > 0
    box = monster(page).bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["viewport"]["width"]
    assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["viewport"]["height"]
