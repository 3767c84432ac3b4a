"""A monster's own page in a real browser: reached from the home page, every download
saves its file, the copy buttons copy, and Chromium draws the SVG and the WebP with
exactly the PNG's pixels. Every test also fails on a console error, a failed request
or a CSP violation (tests/browser/pages.py)."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from monsters.images import identity, keys

from .pages import DESKTOP, PHONE, monster_state, submit_name

NAME = "Grace Hopper"
GRACE = identity.hash_name(NAME)
PAGE = f"/m/{GRACE}"
CLIPBOARD = {**DESKTOP, "permissions": ["clipboard-read", "clipboard-write"]}

# Both pictures drawn on canvases of one size, and their RGBA compared value by value.
_COMPARE = """async ({first, second, size}) => {
    async function draw(src) {
        const img = new Image();
        img.src = src;
        await img.decode();
        const canvas = document.createElement("canvas");
        canvas.width = size;
        canvas.height = size;
        const context = canvas.getContext("2d");
        context.drawImage(img, 0, 0);
        return {
            natural: [img.naturalWidth, img.naturalHeight],
            data: context.getImageData(0, 0, size, size).data,
        };
    }
    const [a, b] = await Promise.all([draw(first), draw(second)]);
    let different = 0, opaque = 0;
    for (let i = 0; i < a.data.length; i++) {
        if (a.data[i] !== b.data[i]) different++;
        if (i % 4 === 3 && a.data[i] === 255) opaque++;
    }
    return {natural: [a.natural, b.natural], different: different, opaque: opaque};
}"""


def _image_url(fmt: str, size: int) -> str:
    return f"/monster/{GRACE}.{fmt}?size={size}&v={keys.current_revision()}"


def test_the_home_pages_result_leads_to_the_monsters_page(pages):
    page = pages.open("/")
    submit_name(page, NAME)
    with page.expect_navigation():
        page.get_by_role("link", name="Share your monster").click()
    assert page.url.endswith(PAGE)
    state = monster_state(page)
    assert state["complete"] and state["naturalWidth"] == 80
    assert NAME not in page.content()
    expect(page.get_by_role("heading", level=1)).to_have_text("A monster from Identidock")


def _check_file(data: bytes, name: str) -> None:
    size = int(name.rsplit("-", 1)[1].split(".")[0])
    if name.endswith(".svg"):
        root = ElementTree.fromstring(data)
        assert (root.get("width"), root.get("height")) == (str(size), str(size))
    else:
        image = Image.open(io.BytesIO(data))
        assert image.format == ("PNG" if name.endswith(".png") else "WEBP")
        assert image.size == (size, size)


def test_every_download_saves_the_file_its_link_names(pages):
    page = pages.open(PAGE)
    links = page.locator("a.download")
    # The monster in three formats, then each other style as PNG and SVG.
    expect(links).to_have_count(9)
    saved = []
    for link in links.all():
        with page.expect_download() as started:
            link.click()
        download = started.value
        assert download.failure() is None
        name = link.get_attribute("download")
        assert download.suggested_filename == name
        data = Path(download.path()).read_bytes()
        assert data == page.request.get(link.get_attribute("href")).body()
        _check_file(data, name)
        saved.append(name.rsplit(".", 1)[1])
    assert saved == ["png", "png", "png", "svg", "webp"] + ["png", "svg"] * 2


@pytest.mark.parametrize("label", ["HTML", "Markdown"])
def test_a_copy_button_puts_its_snippet_on_the_clipboard_and_says_so(pages, label):
    page = pages.open(PAGE, device=CLIPBOARD)
    field = page.get_by_label(label, exact=True)
    button = page.locator(f"button[data-copy='{field.get_attribute('id')}']")
    expect(button).to_be_visible()  # the script has shown it
    button.click()
    expect(button).to_have_text("Copied")
    expect(page.locator(f"#{field.get_attribute('id')}-status")).to_have_text(
        "Copied to the clipboard."
    )
    assert page.evaluate("navigator.clipboard.readText()") == field.input_value()
    assert f"/monster/{GRACE}.png?size=80" in field.input_value()
    expect(button).to_have_text("Copy", timeout=10_000)  # and back, for the next copy


def test_without_script_the_snippets_are_there_and_no_button_that_does_nothing(
    browser, site_url, settings
):
    # The site on a port of its own: the way to name it in the page's absolute URLs.
    settings.PUBLIC_BASE_URL = site_url
    context = browser.new_context(base_url=site_url, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(PAGE)
        expect(page.get_by_label("Markdown", exact=True)).to_have_value(
            f"![A monster from Identidock]({site_url}/monster/{GRACE}.png?size=80)"
        )
        expect(page.locator("button[data-copy]")).to_have_count(2)
        expect(page.locator("button[data-copy]").first).to_be_hidden()
    finally:
        context.close()


@pytest.mark.parametrize("size", [80, 256])
def test_chromium_draws_the_svg_with_the_pngs_pixels(pages, size):
    page: Page = pages.open(PAGE)
    result = page.evaluate(
        _COMPARE,
        {"first": _image_url("png", size), "second": _image_url("svg", size), "size": size},
    )
    assert result["natural"] == [[size, size], [size, size]]
    assert result["opaque"] > size * size // 10  # a monster, not an empty canvas
    assert result["different"] == 0


def test_chromium_decodes_the_webp_to_the_pngs_pixels(pages):
    page = pages.open(PAGE)
    result = page.evaluate(
        _COMPARE, {"first": _image_url("png", 512), "second": _image_url("webp", 512), "size": 512}
    )
    assert result["opaque"] > 0
    assert result["different"] == 0


def test_on_a_phone_the_monster_is_on_the_first_screen_and_nothing_scrolls_sideways(pages):
    page = pages.open(PAGE, device=PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]
    box = page.locator("figure.monster img").bounding_box()
    assert box["y"] + box["height"] <= PHONE["viewport"]["height"]
    assert monster_state(page)["complete"]
