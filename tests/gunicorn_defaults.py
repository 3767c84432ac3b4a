"""The defaults gunicorn.conf.py gives the variables it reads, read from its source: what
the web app gets when compose sets nothing else, for the limits that must agree with it."""

from __future__ import annotations

import re
from pathlib import Path

GUNICORN_CONF = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"


def default(name: str) -> int:
    found = re.search(rf'"{name}", (\d+)', GUNICORN_CONF.read_text())
    assert found, f"gunicorn.conf.py reads no {name}"
    return int(found[1])
