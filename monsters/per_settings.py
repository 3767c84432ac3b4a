"""Values derived from the settings, worked out once per process instead of per request.

The hot paths (the fast image layer, the page) would otherwise read a dozen settings
per request through Django's lazy settings object, each read a Python-level attribute
lookup. The settings never change while a process serves; only tests change them, and
Django then sends `setting_changed` (override_settings, pytest-django's `settings`):
every value cached here is then worked out anew.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast, overload

from django.core.signals import setting_changed
from django.dispatch import receiver

F = TypeVar("F", bound=Callable[..., Any])

_forgetters: list[Callable[[], None]] = []


@overload
def per_settings(function: F) -> F: ...
@overload
def per_settings(*, maxsize: int | None = None) -> Callable[[F], F]: ...


def per_settings(function: F | None = None, *, maxsize: int | None = None) -> Any:
    """`functools.lru_cache`, forgotten whenever a setting changes: `@per_settings`
    keeps every distinct call (for arguments few in kind), `@per_settings(maxsize=N)`
    the N most recent (for arguments a client chooses)."""

    def decorate(function: F) -> F:
        cached = functools.lru_cache(maxsize=maxsize)(function)
        _forgetters.append(cached.cache_clear)
        return cast(F, cached)

    return decorate if function is None else decorate(function)


@receiver(setting_changed)
def _forget(**kwargs: Any) -> None:
    for forget in _forgetters:
        forget()
