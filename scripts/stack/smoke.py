"""A smoke check of the running site, as a person would click through it."""

from __future__ import annotations

import http.cookiejar
import json
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from scripts.stack import StackError

HTTP_TIMEOUT_SECONDS = 10


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )


def fetch(
    opener: urllib.request.OpenerDirector, url: str, data: dict[str, str] | None = None
) -> Answer:
    encoded = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=encoded)  # noqa: S310
    try:
        with opener.open(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
            return Answer(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, dict(error.headers), error.read())


def smoke(base_url: str, name: str | None = None) -> dict[str, Any]:
    """Submit a fresh name, fetch its monster twice, the stylesheet and both probes.

    A random name by default, so its monster is a cache miss the first time.
    """
    name = name or f"Stack check {secrets.token_hex(6)}"
    opener = _opener()
    form = fetch(opener, f"{base_url}/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', form.body)
    if token is None:
        raise StackError(f"the page has no CSRF token (status {form.status})")
    page = fetch(opener, f"{base_url}/", {"csrfmiddlewaretoken": token[1].decode(), "name": name})
    monster_path = re.search(rb'src="(/monster/[0-9a-f]{64}\?size=\d+)"', page.body)
    stylesheet_path = re.search(rb'href="(/static/[^"]+\.css)"', page.body)
    if monster_path is None or stylesheet_path is None:
        raise StackError(f"the page shows no monster or no stylesheet (status {page.status})")
    monsters = [fetch(opener, base_url + monster_path[1].decode()) for _ in range(2)]
    return {
        "form": form,
        "page": page,
        "monster_path": monster_path[1].decode(),
        "monsters": monsters,
        "stylesheet": fetch(opener, base_url + stylesheet_path[1].decode()),
        "healthz": fetch(opener, f"{base_url}/healthz"),
        "readyz": fetch(opener, f"{base_url}/readyz"),
    }
