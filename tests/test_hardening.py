"""Hardening: admin login lockout, request limits and names, admin lookups, methods,
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

from monsters.images import identity
from tests.form_client import FormClient
from tests.guest_monsters import monster

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


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
