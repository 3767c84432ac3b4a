"""Opening pages the way a person's browser does, and noticing when anything breaks.

Every page opened through `BrowserPages` is watched: a console error, an uncaught
exception, a request that fails or an answer of 400 or more is a problem, and the
browser conftest fails the test when any is left at its end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request, Response

DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
# A small phone (iPhone SE class): mobile layout, touch, the page's own viewport meta.
PHONE: dict[str, Any] = {
    "viewport": {"width": 375, "height": 667},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}

# Chromium reports every HTTP error status as a console error as well.
_STATUS_CONSOLE_MESSAGE = "Failed to load resource: the server responded with a status of {}"


@dataclass
class PageWatch:
    """Collects what went wrong in one page, as a person's console would show it."""

    page: Page
    problems: list[str] = field(default_factory=list)
    expected_document_statuses: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("requestfailed", self._on_request_failed)
        self.page.on("response", self._on_response)

    def expect_document_status(self, status: int) -> None:
        """The page itself may answer `status` (an invalid form's 400); its parts may not."""
        self.expected_document_statuses.add(status)

    def _expected(self, request: Request, status: int) -> bool:
        return (
            status in self.expected_document_statuses
            and request.resource_type == "document"
            and request.frame == self.page.main_frame
        )

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not self._echoes_expected_status(message):
            self.problems.append(f"console error: {message.text} ({message.location.get('url')})")

    def _echoes_expected_status(self, message: ConsoleMessage) -> bool:
        """Chromium's console echo of an expected status of the page itself."""
        about_the_page = message.location.get("url", "") == self.page.url
        return about_the_page and any(
            message.text.startswith(_STATUS_CONSOLE_MESSAGE.format(status))
            for status in self.expected_document_statuses
        )

    def _on_request_failed(self, request: Request) -> None:
        self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def _on_response(self, response: Response) -> None:
        if response.status >= 400 and not self._expected(response.request, response.status):
            self.problems.append(
                f"HTTP {response.status}: {response.request.method} {response.url}"
            )

    def report(self) -> list[str]:
        """The problems seen so far, after letting the page deliver pending events."""
        if not self.page.is_closed():
            self.page.evaluate("0")  # a round trip: events queued before it arrive first
        return list(self.problems)


@dataclass
class BrowserPages:
    """Opens watched pages, each in a fresh browser context (no shared cookies)."""

    browser: Browser
    base_url: str
    watches: list[PageWatch] = field(default_factory=list)
    contexts: list[BrowserContext] = field(default_factory=list)

    def open(self, path: str = "/", *, device: Mapping[str, Any] = DESKTOP) -> Page:
        context = self.browser.new_context(base_url=self.base_url, **device)
        self.contexts.append(context)
        page = context.new_page()
        self.watches.append(PageWatch(page))
        page.goto(path)
        return page

    def open_as_staff(
        self,
        path: str,
        *,
        username: str,
        password: str,
        device: Mapping[str, Any] = DESKTOP,
    ) -> Page:
        """`path` seen by a logged-in staff member (the admin's pages, for instance)."""
        page = self.open("/admin/login/", device=device)
        log_in_to_admin(page, username=username, password=password)
        page.goto(path)
        return page

    def watch(self, page: Page) -> PageWatch:
        return next(watch for watch in self.watches if watch.page is page)

    def problems(self) -> list[str]:
        return [problem for watch in self.watches for problem in watch.report()]

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def monster(page: Page):
    """The monster image on the home page."""
    return page.locator("figure.monster img")


def monster_state(page: Page) -> dict[str, Any]:
    """What the browser really did with the monster: loaded, its size, its pixels."""
    return monster(page).evaluate(
        """img => {
            const canvas = document.createElement("canvas");
            canvas.width = img.naturalWidth;
            canvas.height = img.naturalHeight;
            let pixels = "";
            if (img.complete && img.naturalWidth > 0) {
                canvas.getContext("2d").drawImage(img, 0, 0);
                pixels = canvas.toDataURL("image/png");
            }
            return {
                complete: img.complete,
                naturalWidth: img.naturalWidth,
                src: img.currentSrc,
                pixels: pixels,
            };
        }"""
    )


def submit_name(page: Page, name: str) -> None:
    """Type `name` into the box and press the button, as a person would."""
    page.get_by_label("Hello").fill(name)
    with page.expect_navigation():
        page.get_by_role("button", name="Show my monster").click()


def log_in_to_admin(page: Page, *, username: str, password: str) -> None:
    """Log in through the admin's own login form; leaves the page on the admin index."""
    if not page.url.endswith("/admin/login/"):
        page.goto("/admin/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    if not page.url.endswith("/admin/"):
        raise AssertionError(f"admin login as {username!r} failed: still at {page.url}")
    # Let the index finish its icons: leaving it at once aborts them, which the watch
    # rightly reports as failed requests.
    page.wait_for_load_state("networkidle")
