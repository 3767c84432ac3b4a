"""A test client that posts forms the way browsers do: urlencoded, not multipart.

The site refuses multipart bodies (415) before anything parses them, and Django's
test client would send every `post(path, data)` as multipart.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.test import Client

FORM = "application/x-www-form-urlencoded"


class FormClient(Client):
    def post(  # type: ignore[override]  # another default content type, on purpose
        self, path: str, data: Any = None, content_type: str = FORM, **extra: Any
    ) -> Any:
        if content_type == FORM and isinstance(data, dict):
            data = urlencode(data, doseq=True)
        return super().post(path, data if data is not None else "", content_type, **extra)
