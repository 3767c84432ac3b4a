"""Pointing the monster cache somewhere else for one test: a Redis that refuses, hangs,
or is the test's own."""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings


def point_cache_at(settings: Any, url: str) -> None:
    """Point the `monsters` cache at `url` through pytest-django's `settings` fixture
    (put back after the test), every other option kept."""
    monsters_cache: dict[str, Any] = {**django_settings.CACHES["monsters"]}
    monsters_cache["LOCATION"] = url
    settings.CACHES = {**django_settings.CACHES, "monsters": monsters_cache}
