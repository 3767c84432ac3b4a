"""A smoke check of the running site, as a person would click through it.

A `requests.Session` carries the CSRF cookie from the form to its submission, as a
browser does; the answers are requests' own responses, kept for the caller to judge.
"""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass
from http import HTTPStatus

import requests

from scripts.stack import StackError

HTTP_TIMEOUT_SECONDS = 10

_CSRF_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
# The page names the art's revision in every image URL: ?size=N&amp;v=<revision>.
_MONSTER_PATH = re.compile(r'src="(/monster/[0-9a-f]{64}\?size=\d+&amp;v=[\w.-]+)"')
_STYLESHEET_PATH = re.compile(r'href="(/static/[^"]+\.css)"')


@dataclass(frozen=True)
class SmokeReport:
    """Every answer the click-through got, in the order it asked."""

    form: requests.Response
    page: requests.Response
    monster_path: str
    monsters: list[requests.Response]
    stylesheet: requests.Response
    healthz: requests.Response
    readyz: requests.Response

    def checks(self) -> list[tuple[str, bool, str]]:
        """What `make stack --check` reports: a label, whether it passed, what it saw."""
        x_cache = [answer.headers.get("X-Cache", "-") for answer in self.monsters]
        return [
            ("page", _ok(self.page), str(self.page.status_code)),
            ("stylesheet", _ok(self.stylesheet), str(self.stylesheet.status_code)),
            ("monster twice", x_cache == ["MISS", "HIT"], " then ".join(x_cache)),
            ("/healthz", _ok(self.healthz), str(self.healthz.status_code)),
            ("/readyz", _ok(self.readyz), f"{self.readyz.status_code} {self.readyz.text}"),
        ]


def _ok(response: requests.Response) -> bool:
    return response.status_code == HTTPStatus.OK


def smoke(base_url: str, name: str | None = None) -> SmokeReport:
    """Submit a fresh name, fetch its monster twice, the stylesheet and both probes.

    A random name by default, so its monster is a cache miss the first time.
    """
    name = name or f"Stack check {secrets.token_hex(6)}"
    with requests.Session() as session:
        session.trust_env = False  # a local server: no proxy or .netrc from the environment

        def get(path: str) -> requests.Response:
            return session.get(base_url + path, timeout=HTTP_TIMEOUT_SECONDS)

        form = get("/")
        token = _CSRF_TOKEN.search(form.text)
        if token is None:
            raise StackError(f"the page has no CSRF token (status {form.status_code})")
        # A browser names the page's origin on a form POST; Django's CSRF check compares
        # it with the Host it got, port included, so a proxy must pass that on intact.
        page = session.post(
            f"{base_url}/",
            data={"csrfmiddlewaretoken": token[1], "name": name},
            headers={"Origin": base_url, "Referer": f"{base_url}/"},
            timeout=HTTP_TIMEOUT_SECONDS,
        )
        monster_path = _MONSTER_PATH.search(page.text)
        stylesheet_path = _STYLESHEET_PATH.search(page.text)
        if monster_path is None or stylesheet_path is None:
            raise StackError(
                f"the page shows no monster or no stylesheet (status {page.status_code})"
            )
        return SmokeReport(
            form=form,
            page=page,
            monster_path=html.unescape(monster_path[1]),
            monsters=[get(html.unescape(monster_path[1])) for _ in range(2)],
            stylesheet=get(stylesheet_path[1]),
            healthz=get("/healthz"),
            readyz=get("/readyz"),
        )
