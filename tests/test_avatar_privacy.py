"""The hash a client sends for an avatar is never kept: after avatar requests to a real
gunicorn (and through the shipped nginx in front of it), no Redis key or value, no row
of any table, no log line (the app's, gunicorn's access log, nginx's access log) and no
metric contains it, in either case. Only the keyed id (HMAC under the salt) goes on."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterator
from http import HTTPStatus

import pytest
import requests
from django.db import connection
from django_redis import get_redis_connection

from tests import per_run
from tests.live_identidock import live_identidock
from tests.ports import free_port
from tests.shipped_proxy import shipped_proxy

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL = f"private.{secrets.token_hex(6)}@example.com"
MD5 = hashlib.md5(EMAIL.encode()).hexdigest()  # noqa: S324  (what Gravatar clients send)
SHA256 = hashlib.sha256(EMAIL.encode()).hexdigest()
SENT = (MD5, MD5.upper(), SHA256, SHA256.upper())


def _leaks(text: str) -> list[str]:
    lowered = text.lower()
    return [sent for sent in (MD5, SHA256) if sent in lowered]


@pytest.fixture(scope="module")
def served(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[dict]:
    logs = tmp_path_factory.mktemp("privacy-logs")
    metrics_port = free_port()
    with (
        django_db_blocker.unblock(),
        live_identidock(
            log=logs / "gunicorn.log",
            LOG_FORMAT="json",  # a JSON line carries the record's extras too (Django's request)
            LOG_LEVEL="DEBUG",  # the service's own "Cache miss" lines included
            METRICS_PORT=str(metrics_port),
        ) as url,
        shipped_proxy(url.removeprefix("http://"), logs) as proxy_url,
    ):
        yield {
            "url": url,
            "proxy": proxy_url,
            "logs": logs,
            "metrics": f"http://127.0.0.1:{metrics_port}/metrics",
        }


def _ask_for_avatars(base: str) -> None:
    """The requests a client can make with a hash: hits, misses, 304s, 404s, a wrong
    method, a wrong case of the route."""
    statuses = []
    for sent in SENT:
        for suffix in ("", ".jpg", ".png/", ".webp", ".svg"):
            url = f"{base}/avatar/{sent}{suffix}?s=40&d=identicon"
            answer = requests.get(url, timeout=30)
            statuses.append(answer.status_code)
            etag = answer.headers.get("ETag", "")
            again = requests.get(url, headers={"If-None-Match": etag}, timeout=30)
            statuses.append(again.status_code)
        statuses.append(requests.get(f"{base}/avatar/{sent}?d=404", timeout=30).status_code)
        statuses.append(requests.head(f"{base}/avatar/{sent}", timeout=30).status_code)
        statuses.append(requests.post(f"{base}/avatar/{sent}", timeout=30).status_code)
        statuses.append(requests.get(f"{base}/AVATAR/{sent}", timeout=30).status_code)
        statuses.append(requests.get(f"{base}/avatar/{sent}?s=0", timeout=30).status_code)
    assert HTTPStatus.OK in statuses
    assert HTTPStatus.NOT_MODIFIED in statuses
    assert HTTPStatus.NOT_FOUND in statuses
    assert HTTPStatus.METHOD_NOT_ALLOWED in statuses
    assert HTTPStatus.INTERNAL_SERVER_ERROR not in statuses


def test_the_hash_sent_is_kept_nowhere(served):
    _ask_for_avatars(served["url"])
    _ask_for_avatars(served["proxy"])

    # Redis: every key of this run, and every value.
    redis = get_redis_connection("monsters")
    keys = list(redis.scan_iter(match=f"{per_run.cache_key_prefix()}*", count=1000))
    keys += list(redis.scan_iter(match="*audit*", count=1000))
    assert keys, "the avatars were cached"
    for key in keys:
        assert not _leaks(key.decode("latin-1")), key
        dumped = redis.dump(key) or b""
        assert not _leaks(dumped.decode("latin-1")), key

    # PostgreSQL: every row of every table.
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        for table in tables:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            assert not _leaks(repr(cursor.fetchall())), table
        cursor.execute("SELECT COUNT(*) FROM monsters_generation WHERE origin = 'avatar'")
        assert cursor.fetchone()[0] > 0, "the avatars were recorded"

    # Logs: the app's and gunicorn's access log (one file), nginx's access log.
    logs = {path.name: path.read_text(errors="replace") for path in served["logs"].iterdir()}
    for name, text in logs.items():
        assert not _leaks(text), name
    assert re.search(r"GET /avatar/<redacted>\.jpg\?s=40", logs["gunicorn.log"])
    assert "Method Not Allowed: /avatar/<redacted>" in logs["gunicorn.log"]
    assert "Not Found: /AVATAR/<redacted>" in logs["gunicorn.log"]
    assert "GET /avatar/<redacted>.webp?s=40" in logs["proxy.stdout.log"]

    # Metrics: labels name the route, never the path.
    metrics = requests.get(served["metrics"], timeout=10).text
    assert not _leaks(metrics)
    assert 'route="avatar"' in metrics
