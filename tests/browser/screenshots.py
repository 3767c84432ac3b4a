"""`make screenshots`: the site as a person sees it, written to docs/screenshots/.

Not part of `make test` (pytest collects only `test_*.py`); it runs on its own with
the browser suite's fixtures (live server, real renderer, Redis, PostgreSQL):

    .venv/bin/python -m pytest tests/browser/screenshots.py

Each shot is also a check: the page it shows must have loaded without a problem.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from playwright.sync_api import Page

from .pages import DESKTOP, PHONE, monster_state, submit_name

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _save(page: Page, name: str, *, full_page: bool) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # CSS pixels, so a phone shot is the phone's 375 x 667 whatever its pixel ratio.
    page.screenshot(path=path, full_page=full_page, scale="css", animations="disabled")
    return path


def _assert_monster_loaded(page: Page) -> None:
    state = monster_state(page)
    assert state["complete"] and state["naturalWidth"] > 0


def test_home_page_on_a_desktop(pages):
    page = pages.open("/", device=DESKTOP)
    _assert_monster_loaded(page)
    path = _save(page, "home-desktop", full_page=True)
    assert Image.open(path).width == DESKTOP["viewport"]["width"]


def test_home_page_on_a_phone(pages):
    page = pages.open("/", device=PHONE)
    _assert_monster_loaded(page)
    path = _save(page, "home-phone", full_page=False)
    viewport = PHONE["viewport"]
    assert Image.open(path).size == (viewport["width"], viewport["height"])


def test_a_monsters_page_on_a_desktop_and_a_phone(pages):
    page = pages.open("/")
    submit_name(page, "Grace Hopper")
    with page.expect_navigation():
        page.get_by_role("link", name="Share your monster").click()
    page.wait_for_load_state("networkidle")
    _assert_monster_loaded(page)
    path = _save(page, "permalink-desktop", full_page=True)
    assert Image.open(path).width == DESKTOP["viewport"]["width"]

    phone = pages.open(page.url, device=PHONE)
    phone.wait_for_load_state("networkidle")
    _assert_monster_loaded(phone)
    path = _save(phone, "permalink-phone", full_page=False)
    viewport = PHONE["viewport"]
    assert Image.open(path).size == (viewport["width"], viewport["height"])


def test_admin_changelist(pages, admin_user):
    page = pages.open("/")
    for name in ["Moby Dock", "Ada Lovelace", "김철수", "Grace Hopper"]:
        submit_name(page, name)
    staff = pages.open_as_staff(
        "/admin/monsters/generation/", username="admin", password="password"
    )
    staff.wait_for_load_state("networkidle")
    path = _save(staff, "admin-changelist", full_page=False)
    assert Image.open(path).width == DESKTOP["viewport"]["width"]

    staff.goto("/admin/monsters/generation/overview/")
    staff.wait_for_load_state("networkidle")
    path = _save(staff, "admin-overview", full_page=True)
    assert Image.open(path).width == DESKTOP["viewport"]["width"]
