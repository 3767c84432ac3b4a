"""The checkers requirements/dev.txt installs beside the interpreter (hadolint, shellcheck,
check-jsonschema), found where pip put them, and any command, one of them or nginx, run
from the repository root with its output kept for the assertion message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is missing: install requirements/dev.txt (make test does)"
    return str(path)


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
