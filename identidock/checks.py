"""Deployment checks: `manage.py check --deploy` fails on a setting that quietly weakens
a production Identidock, the way Django's own deployment checks fail on SECRET_KEY.

Registered with `deploy=True`, so only `check --deploy` runs them (docker/cmd.sh does,
before it starts gunicorn); `make run`, `runserver` and plain `check` never do, and the
embedded defaults (SQLite, local memory, the original app's salt) stay fine for a
laptop. An operator who means one of them silences its id on purpose:
SILENCED_SYSTEM_CHECKS=identidock.E001.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.utils.module_loading import import_string
from django_redis.cache import RedisCache

# The original Flask app's salt, which settings.py falls back on: public, in its source.
ORIGINAL_APP_SALT = "UNIQUE_SALT"
MONSTER_CACHE = "monsters"


@register(Tags.security, deploy=True)
def check_salt(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    if settings.IDENTIDOCK_SALT != ORIGINAL_APP_SALT:
        return []
    return [
        Error(
            f"IDENTIDOCK_SALT is the original app's public salt ({ORIGINAL_APP_SALT!r}): "
            "anyone can hash a list of names and tell from a monster's URL, or an audit "
            "row, whose name it is.",
            hint=(
                "Set IDENTIDOCK_SALT to a long random secret, e.g. "
                "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'` (every "
                "name then gets a new monster). To keep the original app's monsters on "
                f"purpose, set IDENTIDOCK_SALT={ORIGINAL_APP_SALT} explicitly and "
                "SILENCED_SYSTEM_CHECKS=identidock.E001."
            ),
            id="identidock.E001",
        )
    ]


@register(Tags.security, deploy=True)
def check_audit_database(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    engine = settings.DATABASES.get("default", {}).get("ENGINE", "")
    if "sqlite" not in engine:
        return []
    return [
        Error(
            "The audit log's database is SQLite (DATABASE_URL is unset or names a SQLite "
            "file): each container or pod writes a file of its own, lost with it, and "
            "concurrent writers wait on one lock.",
            hint="Set DATABASE_URL to the PostgreSQL database that keeps the audit log.",
            id="identidock.E002",
        )
    ]


@register(Tags.security, Tags.caches, deploy=True)
def check_monster_cache(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    backend = settings.CACHES.get(MONSTER_CACHE, {}).get("BACKEND", "")
    if _is_redis(backend):
        return []
    return [
        Error(
            f"The {MONSTER_CACHE!r} cache is not Redis ({backend or 'none'}): rate limits "
            "and the single flight of concurrent misses silently count per process, the "
            "audit log has no durable queue for rows PostgreSQL cannot take, and every "
            "process renders and keeps its own copy of each monster.",
            hint=(
                "Set REDIS_URL to the Redis server (or REDIS_SENTINELS to its Sentinels) "
                "that every web process shares."
            ),
            id="identidock.E003",
        )
    ]


@register(Tags.security, deploy=True)
def check_public_base_url(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    # A warning, not an error: without it the pages still answer, with absolute URLs made
    # of the request's checked host name and scheme, only never its port.
    if settings.PUBLIC_BASE_URL or settings.DEBUG:
        return []
    return [
        Warning(
            "PUBLIC_BASE_URL is unset: a monster's page builds the absolute URLs it shares "
            "(og:url, og:image, the canonical link, the embed snippets) from the request's "
            "Host header, without its port.",
            hint=(
                "Set PUBLIC_BASE_URL to the address people reach the site at, e.g. "
                "https://identidock.example.com (with the port, if it is not the scheme's)."
            ),
            id="identidock.W004",
        )
    ]


def _is_redis(backend: str) -> bool:
    """Whether the cache backend at that dotted path is django-redis's (or a subclass)."""
    try:
        cache_class = import_string(backend)
    except ImportError:
        return False  # Django's own cache checks report a backend that does not import
    return isinstance(cache_class, type) and issubclass(cache_class, RedisCache)
