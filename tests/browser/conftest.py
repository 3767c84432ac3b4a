"""Browser fixtures: one headless Chromium per session, a fresh context per page, and
a live server wired to the real renderer (over HTTP), Redis and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from .pages import BrowserPages

# Playwright's sync API runs an asyncio event loop in the test's thread, so Django's
# guard against ORM calls from async code (SynchronousOnlyOperation) trips on the
# test's own database setup and teardown, although nothing here is async. Django
# documents this variable for such cases; it only affects this test process.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

# Debian's Chromium, never a browser downloaded by Playwright.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.exit(
            f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`.",
            returncode=3,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def site_url(live_server, renderer_server, transactional_db) -> str:
    """The live server's address. The server thread shares this process's settings,
    so it renders through `renderer_server` and caches in the suite's Redis."""
    return live_server.url


@pytest.fixture
def pages(browser: Browser, site_url: str) -> Iterator[BrowserPages]:
    """Opens watched pages on the live site; each test fails on any problem they saw."""
    opened = BrowserPages(browser, site_url)
    yield opened
    opened.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    # Checked here rather than in the fixture's teardown, so that a console error or a
    # failed request fails the test itself instead of erroring after it.
    result = yield
    opened = getattr(item, "funcargs", {}).get("pages")
    if isinstance(opened, BrowserPages):
        problems = opened.problems()
        if problems:
            pytest.fail("the page reported problems:\n  " + "\n  ".join(problems))
    return result
