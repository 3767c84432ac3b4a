"""The ceiling for the hit and miss benches: the fastest a gunicorn worker answers a monster.

A bare WSGI app that answers every request with one recorded response of Identidock's
(an 80 px monster served from the cache): the same PNG bytes, the same headers, read
once at import. Whatever Identidock spends above this is Django, the cache and our code;
what this spends is gunicorn, the socket and the client.

    CEILING_RESPONSE_FILE=var/bench/<run>/ceiling.json \\
        gunicorn -c gunicorn.conf.py --bind 127.0.0.1:PORT bench.ceiling_app:app

The JSON file holds {"status": "200 OK", "headers": [[name, value], ...], "body": base64}.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

_RECORDED = json.loads(Path(os.environ["CEILING_RESPONSE_FILE"]).read_text())
STATUS: str = _RECORDED["status"]
HEADERS: list[tuple[str, str]] = [(name, value) for name, value in _RECORDED["headers"]]
BODY: bytes = base64.b64decode(_RECORDED["body"])


def app(environ: dict[str, object], start_response: Callable[..., object]) -> Iterable[bytes]:
    start_response(STATUS, HEADERS)
    return [BODY]
