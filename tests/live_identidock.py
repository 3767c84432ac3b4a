"""A live Identidock for tests that need a real server: the shipped gunicorn.conf.py on
this run's test database and Redis prefix (tests/per_run.py), for real HTTP clients
(avatar client libraries, the privacy test's logs and metrics)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from django.db import connection

from tests import per_run
from tests.gunicorn_server import gunicorn

SALT = "live-test-salt-never-the-public-one"


def environment(**extra: str) -> dict[str, str]:
    database = connection.settings_dict
    return {
        "SECRET_KEY": "live-identidock-test-only",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
            f"{database['PORT'] or 5432}/{database['NAME']}"
        ),
        "REDIS_URL": os.environ["REDIS_URL"],  # the suite's (identidock/settings_test.py)
        "CACHE_KEY_PREFIX": per_run.cache_key_prefix(),
        "IDENTIDOCK_SALT": SALT,
        "RATE_LIMIT_MISS_BURST": "1000",
        "RATE_LIMIT_MISSES_PER_MINUTE": "6000",
        "METRICS_PORT": "0",
        # Rows written before the answer: none lands in the next test's database.
        "AUDIT_WRITE_BEHIND_MS": "0",
        **extra,
    }


@contextlib.contextmanager
def live_identidock(*, log: Path | None = None, **extra: str) -> Iterator[str]:
    """`http://127.0.0.1:<port>` of a gunicorn serving Identidock until the block ends."""
    with gunicorn(environment(**extra), log=log) as address:
        yield f"http://{address}"
