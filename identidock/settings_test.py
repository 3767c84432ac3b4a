"""Test settings: the real PostgreSQL and Redis on this machine.

DATABASE_URL and REDIS_URL may point elsewhere; the defaults are the local servers,
with a Redis database number of the suite's own (django-redis's tests use db 1; we
take 15 so a developer's own data in db 0 is never flushed).
"""

from __future__ import annotations

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/identidock")
os.environ["REDIS_URL"] = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.pop("REDIS_SENTINELS", None)  # one server: the tests of Sentinel start their own
os.environ.pop("DNMONSTER_URL", None)

from .settings import *  # noqa: E402, F403

DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# Serve static files from the apps' folders, as in development: no collectstatic needed.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# The suite exercises Redis itself; the in-process tier in front of it has tests of
# its own that turn it on.
MONSTER_PROCESS_CACHE_MB = 0
# Each readiness test sees its own dependencies' state, not a verdict kept from before.
READINESS_TTL = 0
# Generous Redis timeouts: the suite shares a busy machine, and the tests of timeouts
# point the cache at servers of their own. Production keeps its 0.1/0.15 s.
CACHES["monsters"]["OPTIONS"]["SOCKET_CONNECT_TIMEOUT"] = 1.0  # noqa: F405
CACHES["monsters"]["OPTIONS"]["SOCKET_TIMEOUT"] = 1.0  # noqa: F405
