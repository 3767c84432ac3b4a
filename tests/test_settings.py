"""Production settings refuse to start without what they need."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_settings(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    clean.update(env, DJANGO_SETTINGS_MODULE="identidock.settings")
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_refuses_to_start_without_secret_key_when_debug_is_off():
    result = _load_settings()
    assert result.returncode != 0
    assert "You must set SECRET_KEY" in result.stderr


def test_starts_without_secret_key_in_debug():
    assert _load_settings(DEBUG="1").returncode == 0


def test_starts_with_a_secret_key():
    assert _load_settings(SECRET_KEY="x" * 50).returncode == 0


def test_unreadable_boolean_is_a_clear_error():
    result = _load_settings(SECRET_KEY="x" * 50, DEBUG="maybe")
    assert "DEBUG must be true or false" in result.stderr


def test_renderer_revision_with_characters_unfit_for_a_cache_key_is_refused():
    result = _load_settings(SECRET_KEY="x" * 50, DNMONSTER_REVISION="amouat 1.0:x")
    assert result.returncode != 0
    assert "DNMONSTER_REVISION may hold" in result.stderr


def test_cache_key_prefix_with_characters_unfit_for_a_cache_key_is_refused():
    result = _load_settings(SECRET_KEY="x" * 50, CACHE_KEY_PREFIX="two words")
    assert result.returncode != 0
    assert "CACHE_KEY_PREFIX may hold" in result.stderr
