"""Requests through the proxy, as the proxy cache tests make them: a plain GET, and an
answer once nginx has logged its request (so a copy it keeps is kept by then)."""

from __future__ import annotations

from pathlib import Path

import requests

from tests.waiting import eventually


def get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers=headers, timeout=10)


def settled(answer: requests.Response, access_log: Path) -> requests.Response:
    """`answer`, once nginx has logged its request. nginx writes a copy into its cache
    after the client has the last byte and before it logs the request: a request sent
    sooner may find no copy yet (a second miss, harmless, but not what a test asks)."""
    request_id = answer.headers["X-Request-ID"]
    assert eventually(lambda: f"id={request_id}" in access_log.read_text())
    return answer
