"""The audit log in the admin, as a member of staff uses it in a real browser."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from monsters.images import identity
from tests.waiting import eventually

from .pages import submit_name

# pytest-django's `admin_user` fixture.
ADMIN = {"username": "admin", "password": "password"}
CHANGELIST = "/admin/monsters/generation/"


def _generate_monsters_for(pages, names: list[str]) -> None:
    """Visit the site as people do, so the audit log fills through the real flow."""
    page = pages.open("/")
    for name in names:
        submit_name(page, name)


def _thumbnails(page: Page) -> list[dict]:
    # Thumbnails load lazily and in parallel: wait until the browser is done with each.
    # Polled from here: wait_for_function would eval() in the page, which its CSP forbids.
    thumbnails: list[dict] = []

    def all_loaded() -> bool:
        thumbnails[:] = page.locator("#result_list img").evaluate_all(
            "imgs => imgs.map(img => ({complete: img.complete, width: img.naturalWidth,"
            " src: img.src}))"
        )
        return all(thumbnail["complete"] for thumbnail in thumbnails)

    assert eventually(all_loaded, timeout=10), f"thumbnails still loading: {thumbnails}"
    return thumbnails


def test_changelist_shows_thumbnails_that_loaded(pages, admin_user):
    _generate_monsters_for(pages, ["Moby Dock", "Ada Lovelace"])
    page = pages.open_as_staff(CHANGELIST, **ADMIN)
    thumbnails = _thumbnails(page)
    assert len(thumbnails) >= 3  # Joe Bloggs, Moby Dock, Ada Lovelace (and their 2x)
    for thumbnail in thumbnails:
        assert thumbnail["complete"] and thumbnail["width"] > 0, thumbnail["src"]
        assert "size=40" in thumbnail["src"]


def test_finding_by_a_name_posts_it_and_shows_its_row_by_hash(pages, admin_user):
    _generate_monsters_for(pages, ["Moby Dock", "Ada Lovelace"])
    page = pages.open_as_staff(CHANGELIST, **ADMIN)
    _thumbnails(page)  # let the page finish, or leaving it aborts the thumbnails in flight
    page.wait_for_load_state("load")  # and the admin's own icons
    with page.expect_navigation():
        page.get_by_role("link", name="Find by name").click()
    page.get_by_label("Name").fill("Moby Dock")
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    with page.expect_navigation():
        page.get_by_role("button", name="Find").click()
    moby = identity.hash_name("Moby Dock")
    hashes = page.locator("#result_list code[title]").evaluate_all(
        "codes => codes.map(code => code.title)"
    )
    assert hashes and set(hashes) == {moby}
    expect(page.locator("#result_list")).to_contain_text(moby[:12])
    # The name went in the POST's body: no address the browser asked for names it.
    assert urls and not [url for url in urls if "Moby" in url or "Dock" in url], urls
    assert page.url.endswith(f"?q={moby}")
