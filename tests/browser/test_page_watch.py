"""The watch that fails every browser test on a console error or a failed request
really sees them: each test provokes one problem and then clears it."""

from __future__ import annotations

from http import HTTPStatus

from monsters.images import identity


def _problems_then_clear(pages, page) -> list[str]:
    watch = pages.watch(page)
    problems = watch.report()
    watch.problems.clear()  # seen and asserted on: not a failure of this test
    return problems


def test_watch_reports_an_image_that_does_not_load(pages):
    page = pages.open("/")
    page.evaluate(
        """() => new Promise(resolve => {
            const img = new Image();
            img.onerror = resolve;
            img.src = "/static/monsters/no-such-picture.png";
            document.body.append(img);
        })"""
    )
    problems = _problems_then_clear(pages, page)
    assert any(p.startswith("HTTP 404: GET") and "no-such-picture" in p for p in problems)


def test_watch_reports_an_uncaught_script_error(pages):
    page = pages.open("/")
    with page.expect_event("pageerror"):
        page.evaluate("setTimeout(() => { throw new Error('monster escaped'); })")
    problems = _problems_then_clear(pages, page)
    assert any("page error" in p and "monster escaped" in p for p in problems)


def test_watch_reports_a_console_error(pages):
    page = pages.open("/")
    page.evaluate("console.error('something is off')")
    assert "console error: something is off" in " ".join(_problems_then_clear(pages, page))


def test_watch_reports_a_request_that_fails(pages):
    page = pages.open("/")
    # Same origin (the page's CSP refuses any other), cut off before it is answered.
    with page.expect_event("requestfailed"):
        page.evaluate(
            """() => {
                const stop = new AbortController();
                const request = fetch('/readyz?cut-off', {signal: stop.signal}).catch(() => null);
                stop.abort();
                return request;
            }"""
        )
    problems = _problems_then_clear(pages, page)
    assert any(p.startswith("request failed: GET") and "cut-off" in p for p in problems)


def test_watch_reports_a_content_security_policy_violation(pages):
    page = pages.open("/")
    # Chromium reports the violation on the console: wait for that, not for a while.
    with page.expect_event("console", lambda message: "Content Security Policy" in message.text):
        page.evaluate(
            """() => {
                const script = document.createElement('script');
                script.textContent = 'document.title = "injected"';
                document.body.append(script);
            }"""
        )
    problems = _problems_then_clear(pages, page)
    assert page.title() != "injected"  # the policy held
    assert any("Content Security Policy" in p for p in problems)


def test_an_expected_400_page_does_not_excuse_a_400_image(pages):
    page = pages.open("/")
    pages.watch(page).expect_document_status(HTTPStatus.BAD_REQUEST)
    bad_size = f"/monster/{identity.hash_name('Moby Dock')}?size=5"
    page.evaluate(
        """src => new Promise(resolve => {
            const img = new Image();
            img.onerror = resolve;
            img.src = src;
            document.body.append(img);
        })""",
        bad_size,
    )
    problems = _problems_then_clear(pages, page)
    assert any(p.startswith("HTTP 400: GET") and "size=5" in p for p in problems)
