"""Test settings: the real PostgreSQL and Redis on this machine.

DATABASE_URL and REDIS_URL may point elsewhere; the defaults are the local servers,
with a Redis database number of the suite's own (django-redis's tests use db 1; we
take 15 so a developer's own data in db 0 is never touched).

Two runs may share both servers (two checkouts, or pytest-xdist's workers): each run
has a token of its own, IDENTIDOCK_TEST_RUN, kept in the environment so that the
processes the tests start, and xdist's workers, inherit it. The run's test database is
`test_identidock_<token>` (pytest-django appends `_gw<N>` for each xdist worker) and its
monster cache keys start with `test-<token>[-gw<N>]:`, so one run never drops or
deletes another's data (tests/per_run.py).
"""

from __future__ import annotations

import os
import re
import secrets

from django.core.exceptions import ImproperlyConfigured

TEST_RUN = os.environ.setdefault("IDENTIDOCK_TEST_RUN", secrets.token_hex(4))
if not re.fullmatch(r"[0-9a-f]{8}", TEST_RUN):
    raise ImproperlyConfigured("IDENTIDOCK_TEST_RUN must be 8 lowercase hex digits.")
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/identidock")
os.environ["REDIS_URL"] = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.pop("REDIS_SENTINELS", None)  # one server: the tests of Sentinel start their own
# In the environment, not only in CACHES: `manage.py` and gunicorn processes started by
# the tests, on the production settings, read it from there.
os.environ["CACHE_KEY_PREFIX"] = "-".join(filter(None, ["test", TEST_RUN, _XDIST_WORKER]))
os.environ.pop("DNMONSTER_URL", None)

from .settings import *  # noqa: E402, F403

DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
DATABASES["default"]["TEST"] = {"NAME": f"test_identidock_{TEST_RUN}"}  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# Serve static files from the apps' folders, as in development: no collectstatic needed.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# The suite exercises Redis itself; the in-process tier in front of it has tests of
# its own that turn it on.
MONSTER_PROCESS_CACHE_MB = 0
# Most tests read the audit log right after a request, in the test's own transaction:
# rows are written before the answer. The write-behind has tests of its own that turn
# it on (tests/test_audit_writer.py), and the servers the tests start run it as shipped.
AUDIT_WRITE_BEHIND_MS = 0
# The same, for the audit write's bound: the tests of frozen databases run gunicorn
# with the shipped value. The suite's setup (creating databases on a busy server) is
# not cut short by the client-side bound either; the tests of that bound lower it.
AUDIT_WRITE_TIMEOUT_MS = 0
DATABASE_CLIENT_TIMEOUT_MS = 0
# Each readiness test sees its own dependencies' state, not a verdict kept from before.
READINESS_TTL = 0
# Generous Redis timeouts: the suite shares a busy machine, and the tests of timeouts
# point the cache at servers of their own. Production keeps its 0.1/0.15 s.
CACHES["monsters"]["OPTIONS"]["SOCKET_CONNECT_TIMEOUT"] = 1.0  # noqa: F405
CACHES["monsters"]["OPTIONS"]["SOCKET_TIMEOUT"] = 1.0  # noqa: F405
# Creating and dropping test databases waits on other sessions on a busy server; the
# request-path statement timeout is for requests, not for the suite's setup.
if "options" in DATABASES["default"].get("OPTIONS", {}):  # noqa: F405
    DATABASES["default"]["OPTIONS"]["options"] = "-c statement_timeout=60000"  # noqa: F405
# On a machine this loaded, PostgreSQL itself can take over 2 s to accept a connection.
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 10  # noqa: F405
DATABASE_CONNECT_TIMEOUT = 10  # the client-side bound on connecting, likewise
