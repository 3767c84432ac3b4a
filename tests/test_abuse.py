"""Abuse and hardening: rate limits on what costs, admin login lockout, request limits,
strict headers, and the production settings passing `check --deploy`."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from monsters.guards import clients, rate_limit
from monsters.images import identity, keys, service
from monsters.models import Generation
from tests.cache_points import point_cache_at
from tests.form_client import FormClient
from tests.ports import free_port

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


def monster(n: int | str) -> str:
    return f"/monster/{identity.hash_name(f'guest {n}')}"


# --- Rate limits -----------------------------------------------------------------------


def test_misses_beyond_the_burst_get_429_with_retry_after_and_ratelimit_headers(
    client, renderer_server, settings
):
    settings.RATE_LIMIT_MISS_BURST = 5
    settings.RATE_LIMIT_MISSES_PER_MINUTE = 1  # no refill to speak of, however slow the box
    answers = [client.get(monster(n)) for n in range(7)]
    assert [a.status_code for a in answers] == [HTTPStatus.OK] * 5 + [
        HTTPStatus.TOO_MANY_REQUESTS
    ] * 2
    refused = answers[-1]
    assert 1 <= int(refused["Retry-After"]) <= 60  # a token a minute
    # The quota a minute, and the burst the bucket allows at once.
    assert refused["RateLimit-Policy"] == '"misses";q=1;w=60;burst=5'
    assert refused["RateLimit"].startswith('"misses";r=0;t=')
    assert refused["Cache-Control"] == "no-store"
    assert renderer_server.count == 5
    assert Generation.objects.count() == 5


def test_the_policy_header_states_the_rate_and_the_burst_of_the_defaults():
    limit = rate_limit.Limit("misses", per_minute=120, burst=30)
    decision = rate_limit.Decision(allowed=True, limit=limit, remaining=29, retry_after=0.0)
    headers = dict(decision.headers())
    assert headers["RateLimit-Policy"] == '"misses";q=120;w=60;burst=30'
    assert headers["RateLimit"] == '"misses";r=29;t=0'


def test_hits_and_304s_are_never_limited(client, renderer_server, settings):
    settings.RATE_LIMIT_MISS_BURST = 1
    first = client.get(monster(0))
    for _ in range(20):
        assert client.get(monster(0))["X-Cache"] == "HIT"
        again = client.get(monster(0), HTTP_IF_NONE_MATCH=first["ETag"])
        assert again.status_code == HTTPStatus.NOT_MODIFIED


def test_each_client_has_its_own_bucket_and_only_the_proxy_names_it(
    client, renderer_server, settings
):
    settings.RATE_LIMIT_MISS_BURST = 2
    settings.RATE_LIMIT_MISSES_PER_MINUTE = 1
    settings.FORWARDED_ALLOW_IPS = ["127.0.0.1"]  # the test client's REMOTE_ADDR
    via_proxy = [
        client.get(monster(n), HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code for n in range(6)
    ]
    assert set(via_proxy) == {HTTPStatus.OK}  # six clients, one miss each
    settings.FORWARDED_ALLOW_IPS = ["10.9.9.9"]  # now the peer is nobody we trust
    spoofed = [
        client.get(monster(f"x{n}"), HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
        for n in range(4)
    ]
    assert spoofed.count(HTTPStatus.TOO_MANY_REQUESTS) == 2  # one bucket: the peer's


def test_the_limiter_fails_open_while_redis_is_down(client, renderer_server, settings):
    settings.RATE_LIMIT_MISS_BURST = 1
    point_cache_at(settings, f"redis://127.0.0.1:{free_port()}/0")
    statuses = {client.get(monster(n)).status_code for n in range(4)}
    assert statuses == {HTTPStatus.OK}


def test_the_page_post_has_a_looser_limit_of_its_own(client, settings):
    settings.RATE_LIMIT_NAME_BURST = 3
    settings.RATE_LIMIT_NAMES_PER_MINUTE = 1  # no refill to speak of during the test
    settings.RATE_LIMIT_MISS_BURST = 1  # the image limit does not apply to the page
    statuses = [client.post("/", {"name": f"guest {n}"}).status_code for n in range(4)]
    assert statuses == [HTTPStatus.OK] * 3 + [HTTPStatus.TOO_MANY_REQUESTS]


# --- Admin login lockout ---------------------------------------------------------------


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_user("ada", password="right-password-1", is_staff=True)


def log_in(client: FormClient, password: str, **extra: str):
    client.get("/admin/login/")
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": "ada", "password": password, "next": "/admin/"},
        **extra,
    )


def test_repeated_failures_lock_the_user_at_that_address_even_with_the_right_password(
    staff, settings
):
    client = FormClient()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "wrong").status_code == HTTPStatus.OK  # the form again
    locked = log_in(client, "wrong")
    assert locked.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert int(locked["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    assert locked["Content-Type"] == "text/plain; charset=utf-8"
    assert locked.content.decode().count("\n") == 1
    assert log_in(client, "right-password-1").status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_a_password_storm_from_one_address_does_not_lock_the_user_out_elsewhere(staff, settings):
    attacker = FormClient(REMOTE_ADDR="203.0.113.66")
    for _ in range(settings.AXES_FAILURE_LIMIT * 3):
        log_in(attacker, "wrong")
    assert log_in(attacker, "right-password-1").status_code == HTTPStatus.TOO_MANY_REQUESTS
    response = log_in(FormClient(REMOTE_ADDR="192.0.2.7"), "right-password-1")
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "/admin/"


def test_an_unlock_lets_the_right_password_in_again(staff, settings):
    client = FormClient()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "wrong")
    call_command("axes_reset", verbosity=0)
    response = log_in(client, "right-password-1")
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "/admin/"


# --- Request limits and names ----------------------------------------------------------


def test_a_multipart_post_is_refused_before_anything_reads_it(client):
    upload = b'--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nMoby\r\n--x--\r\n'
    response = client.post("/", upload, content_type="multipart/form-data; boundary=x")
    assert response.status_code == HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    assert response.content.decode().count("\n") == 1


def test_a_body_over_the_limit_is_refused_by_its_length(client, settings):
    body = "name=" + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = client.post("/", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE


def test_an_invalid_name_is_echoed_back_no_longer_than_the_field_allows(client):
    response = client.post("/", {"name": "y" * 5000})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    html = response.content.decode()
    assert "y" * identity.MAX_NAME_LENGTH in html
    assert "y" * (identity.MAX_NAME_LENGTH + 1) not in html


@pytest.mark.parametrize("raw", [b"name=%FF", b"name=%ED%A0%80", b"name=Mo%C3by"])
def test_names_that_are_not_utf8_are_refused(client, raw):
    response = client.post("/", raw, content_type="application/x-www-form-urlencoded")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "valid UTF-8" in response.content.decode()


@pytest.mark.parametrize("name", ["\u202e", "\u200b", "\ufeff", "\u200b\u200c\u2060", "\u00a0"])
def test_names_made_only_of_invisible_characters_are_refused(client, name):
    response = client.post("/", {"name": name})
    assert response.status_code == HTTPStatus.BAD_REQUEST


@pytest.mark.parametrize("name", ["Moby Dock", "José", "名前", "Zoë\u200d", "a\u202eb"])
def test_visible_names_hash_exactly_as_the_original_app_did(client, name):
    response = client.post("/", {"name": name})
    assert response.status_code == HTTPStatus.OK
    assert identity.hash_name(name) in response.content.decode()


# --- Admin lookups, methods, headers ---------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["name_hash__regex=(a%2B)%2B$", "png_bytes__gt=1", "id__in=1,2", "name_hash__contains=a"],
)
def test_the_changelist_accepts_only_the_filters_it_offers(admin_client, query):
    response = admin_client.get(f"/admin/monsters/generation/?{query}")
    assert response.status_code == HTTPStatus.BAD_REQUEST


@pytest.mark.parametrize(
    "query",
    ["origin__exact=web", "size__exact=80", "source__exact=builtin", "created_at__year=2026"],
)
def test_the_changelist_filters_still_work(admin_client, query):
    assert admin_client.get(f"/admin/monsters/generation/?{query}").status_code == HTTPStatus.OK


@pytest.mark.parametrize("path", [monster(0), "/healthz", "/readyz", "/favicon.ico"])
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_images_and_probes_answer_405_with_allow_before_any_csrf_check(path, method):
    client = FormClient(enforce_csrf_checks=True)
    response = getattr(client, method)(path)
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("method", ["put", "patch", "delete", "options"])
def test_the_page_allows_get_head_and_post_only_before_any_csrf_check(method):
    response = getattr(FormClient(enforce_csrf_checks=True), method)("/")
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["Allow"] == "GET, HEAD, POST"
    assert response.content.decode().count("\n") == 1


def test_a_post_to_the_page_without_a_token_is_still_a_csrf_refusal():
    response = FormClient(enforce_csrf_checks=True).post("/", {"name": "Moby"})
    assert response.status_code == HTTPStatus.FORBIDDEN


def test_pages_carry_a_strict_content_security_policy(client):
    policy = client.get("/")["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert "unsafe-inline" not in policy


def test_images_are_embeddable_anywhere(client, renderer_server):
    response = client.get(monster(0))
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert "Content-Security-Policy" not in response


def test_behind_tls_plain_http_is_redirected_but_probes_are_not(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    assert client.get("/").status_code == HTTPStatus.MOVED_PERMANENTLY
    assert client.get("/healthz").status_code == HTTPStatus.OK
    secure = client.get("/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == HTTPStatus.OK
    assert secure["Strict-Transport-Security"].startswith("max-age=3600")


def test_production_settings_behind_tls_pass_check_deploy():
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "identidock.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "false",
        "ALLOWED_HOSTS": "identidock.example.com",
        "PUBLIC_BASE_URL": "https://identidock.example.com",
        "BEHIND_TLS_PROXY": "true",
        "IDENTIDOCK_SALT": secrets.token_urlsafe(32),  # not the original app's public one
    }
    environment.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # the browser tests' setting, not ours
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_refused_render_is_neither_cached_nor_audited(client, renderer_server, settings):
    settings.RATE_LIMIT_MISS_BURST = 1
    settings.RATE_LIMIT_MISSES_PER_MINUTE = 1
    client.get(monster(1))
    refused = client.get(monster(2))
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    name_hash = identity.hash_name("guest 2")
    assert not service.cached_specs([keys.Spec(name_hash, 80)])
    assert not Generation.objects.filter(name_hash=name_hash).exists()


# --- Client addresses ------------------------------------------------------------------


@pytest.mark.parametrize(
    "spellings",
    [
        ["127.0.0.1", "::ffff:127.0.0.1", "::ffff:7f00:1"],
        ["::1", "0::1", "0:0:0:0:0:0:0:1", "::2"],
        ["2001:db8:1:2::9", "2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:0db8:0001:0002::"],
    ],
    ids=["IPv4 and IPv4-mapped", "IPv6 loopback", "one IPv6 /64"],
)
def test_every_spelling_of_a_client_is_one_key(spellings):
    assert len({clients.normalised(spelling) for spelling in spellings}) == 1


def test_an_ipv6_client_is_known_by_its_64_and_neighbouring_64s_apart():
    assert clients.normalised("2001:db8:1:2::9") == "2001:db8:1:2::"
    assert clients.normalised("2001:db8:1:3::9") == "2001:db8:1:3::"


def test_a_client_cannot_get_a_fresh_bucket_by_respelling_its_address(
    client, renderer_server, settings
):
    settings.RATE_LIMIT_MISS_BURST = 2
    settings.RATE_LIMIT_MISSES_PER_MINUTE = 1
    settings.FORWARDED_ALLOW_IPS = ["127.0.0.1"]
    spellings = ["::1", "0::1", "0:0::1", "::ffff:127.0.0.2", "127.0.0.2", "::ffff:7f00:2"]
    statuses = [
        client.get(monster(f"s{n}"), HTTP_X_FORWARDED_FOR=spelling).status_code
        for n, spelling in enumerate(spellings)
    ]
    assert statuses == [HTTPStatus.OK] * 2 + [HTTPStatus.TOO_MANY_REQUESTS] + [
        HTTPStatus.OK
    ] * 2 + [HTTPStatus.TOO_MANY_REQUESTS]


def test_a_trusted_proxy_is_recognised_in_its_ipv4_mapped_spelling(settings):
    settings.FORWARDED_ALLOW_IPS = ["127.0.0.1"]
    meta = {"REMOTE_ADDR": "::ffff:127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.5"}
    assert clients.address_from(meta) == "203.0.113.5"


# --- The form's budget across every client ---------------------------------------------


def _names_from(address: str, count: int, start: int) -> list[int]:
    client = FormClient(REMOTE_ADDR=address)
    return [client.post("/", {"name": f"guess {start + n}"}).status_code for n in range(count)]


def test_two_addresses_together_exhaust_the_global_names_budget(settings):
    settings.RATE_LIMIT_NAME_BURST = 10  # each address alone is well within its own limit
    settings.RATE_LIMIT_NAMES_GLOBAL_BURST = 6
    settings.RATE_LIMIT_NAMES_GLOBAL_PER_MINUTE = 1  # no refill to speak of during the test
    first = _names_from("192.0.2.1", 4, start=0)
    second = _names_from("192.0.2.2", 4, start=4)
    assert first == [HTTPStatus.OK] * 4
    assert second == [HTTPStatus.OK] * 2 + [HTTPStatus.TOO_MANY_REQUESTS] * 2
    # A third address, which has sent nothing yet, is refused too: the budget is everyone's.
    refused = FormClient(REMOTE_ADDR="192.0.2.3").post("/", {"name": "guess 9"})
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert refused["RateLimit-Policy"] == '"names-global";q=1;w=60;burst=6'
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["Cache-Control"] == "no-store"


def test_a_client_over_its_own_limit_spends_nothing_of_the_global_budget(settings):
    settings.RATE_LIMIT_NAME_BURST = 2
    settings.RATE_LIMIT_NAMES_PER_MINUTE = 1
    settings.RATE_LIMIT_NAMES_GLOBAL_BURST = 4
    settings.RATE_LIMIT_NAMES_GLOBAL_PER_MINUTE = 1
    greedy = _names_from("192.0.2.1", 6, start=0)
    assert greedy == [HTTPStatus.OK] * 2 + [HTTPStatus.TOO_MANY_REQUESTS] * 4
    # Its four refusals came from its own bucket: two names of the global four remain.
    assert _names_from("192.0.2.2", 3, start=6) == [HTTPStatus.OK] * 2 + [
        HTTPStatus.TOO_MANY_REQUESTS
    ]


def test_viewing_the_form_spends_no_name_token(client, settings):
    settings.RATE_LIMIT_NAMES_GLOBAL_BURST = 1
    settings.RATE_LIMIT_NAMES_GLOBAL_PER_MINUTE = 1
    assert {client.get("/").status_code for _ in range(5)} == {HTTPStatus.OK}
    assert client.post("/", {"name": "Moby Dock"}).status_code == HTTPStatus.OK
