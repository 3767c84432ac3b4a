"""Behaviour at the edges: the embedded defaults' own rate limiter, HSTS on image
answers alike in both layers, the trusted-proxy rules, flush_audit's dry run."""

from __future__ import annotations

import io
from http import HTTPStatus

import pytest
from django.core.management import call_command
from django.test import RequestFactory

from identidock.wsgi import django_application
from monsters.guards import clients, rate_limit
from monsters.images import identity, keys
from monsters.web.front import FastImages
from tests.wsgi_calls import call

MOBY = identity.hash_name("Moby Dock")


def test_without_redis_the_limiter_keeps_its_buckets_in_this_process(settings):
    settings.CACHES = {
        **settings.CACHES,
        "monsters": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "edges",
            "KEY_FUNCTION": "monsters.guards.cache.make_key",
        },
    }
    limit = rate_limit.Limit("edge-test", per_minute=1, burst=2)
    decisions = [rate_limit.take(limit, "192.0.2.1") for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert decisions[-1].retry_after > 0
    assert rate_limit.take(limit, "192.0.2.2").allowed  # another client, another bucket


@pytest.mark.django_db(transaction=True)
def test_hsts_on_a_secure_image_answer_is_the_same_in_both_layers(renderer_server, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 600
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    query = f"size=80&v={keys.current_revision()}"
    call(django_application, f"/monster/{MOBY}", query)  # cached now
    layer = call(
        FastImages(django_application), f"/monster/{MOBY}", query, X_Forwarded_Proto="https"
    )
    django = call(django_application, f"/monster/{MOBY}", query, X_Forwarded_Proto="https")
    assert layer == django
    assert ("Strict-Transport-Security", "max-age=600; includeSubDomains; preload") in layer[1]


@pytest.mark.parametrize(
    ("peer", "allowed", "expected"),
    [
        ("10.0.0.5", ["*"], "198.51.100.9"),  # every peer trusted
        ("10.0.0.5", ["10.0.0.0/8"], "198.51.100.9"),  # a trusted network
        ("10.0.0.5", ["127.0.0.1"], "10.0.0.5"),  # an untrusted peer: its own address
        ("not-an-address", ["127.0.0.1"], "not-an-address"),
    ],
)
def test_the_client_is_the_proxys_last_forwarded_entry_only_from_a_trusted_peer(
    settings, peer, allowed, expected
):
    settings.FORWARDED_ALLOW_IPS = allowed
    request = RequestFactory().get(
        "/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR="203.0.113.1, 198.51.100.9"
    )
    assert clients.client_address(request) == expected


@pytest.mark.django_db
def test_flush_audit_dry_run_counts_and_writes_nothing():
    out = io.StringIO()
    call_command("flush_audit", "--dry-run", stdout=out)
    assert out.getvalue().strip().endswith("audit rows wait in the queue")


@pytest.mark.django_db
def test_a_staff_image_request_with_another_method_is_405(admin_client):
    response = admin_client.post(f"/admin/monsters/generation/monster/{MOBY}")
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
