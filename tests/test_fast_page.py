"""The fast layer for the home page in front of Django: the same answer to `GET|HEAD /`,
status, headers (in order) and bytes, but for what differs between any two answers by
design (the CSRF token's mask, a new CSRF secret, the cookie's expiry second), which is
compared by its structure; the plain cases answered without Django, everything else
handed on."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from http.cookies import SimpleCookie
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest
from django.middleware.csrf import (  # type: ignore[attr-defined]  # private: not in the stubs
    _unmask_cipher_token,
    get_token,
)
from django.test import override_settings

from identidock import wsgi
from identidock.wsgi import django_application
from monsters import fast_page, home_page, identity
from monsters.fast_images import FastImages
from monsters.fast_page import FastPage
from monsters.forms import DEFAULT_NAME
from tests.wsgi_calls import CountingDjango, call

pytestmark = pytest.mark.django_db

SECRET = "AbCdEfGhIjKlMnOpQrStUvWxYz012345"  # a valid CSRF secret: 32 letters and digits
TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"')
OK = f"{HTTPStatus.OK.value} {HTTPStatus.OK.phrase}"


def masked(secret: str) -> str:
    """A token for `secret`, freshly masked, by Django's own `get_token`."""
    request = HttpRequest()
    request.META["CSRF_COOKIE"] = secret
    return get_token(request)


@dataclass
class Normalised:
    """An answer with what differs by design taken out, and that kept apart."""

    status: str
    headers: list[tuple[str, object]]  # Set-Cookie as its name and attributes
    body: bytes  # the CSRF token blanked
    token: str | None
    cookies: dict[str, str]  # name -> value
    expires: dict[str, str]  # name -> the cookie's expires attribute ("" for none)


def normalised(answer) -> Normalised:
    status, headers, body = answer
    shape: list[tuple[str, object]] = []
    cookies, expires = {}, {}
    for name, value in headers:
        if name != "Set-Cookie":
            shape.append((name, value))
            continue
        ((key, morsel),) = SimpleCookie(value).items()
        cookies[key], expires[key] = morsel.value, morsel["expires"]
        attributes = {
            attribute: morsel[attribute] for attribute in morsel if attribute != "expires"
        }
        shape.append((name, (key, attributes, bool(morsel["expires"]))))
    token = TOKEN.search(body)
    return Normalised(
        status=status,
        headers=shape,
        body=TOKEN.sub(b'name="csrfmiddlewaretoken" value=""', body),
        token=token[1].decode() if token else None,
        cookies=cookies,
        expires=expires,
    )


def assert_alike(layer_answer, django_answer, *, cookie: str = "csrftoken") -> Normalised:
    """The two answers are the same: status, headers in order, body; each page's token
    is its own cookie's secret, masked; the cookies expire within a second or two."""
    ours, theirs = normalised(layer_answer), normalised(django_answer)
    assert (ours.status, ours.headers) == (theirs.status, theirs.headers)
    assert ours.body == theirs.body
    for answer in (ours, theirs):
        assert answer.token is not None
        assert _unmask_cipher_token(answer.token) == answer.cookies[cookie]
    if ours.expires[cookie] or theirs.expires[cookie]:
        apart = parsedate_to_datetime(ours.expires[cookie]) - parsedate_to_datetime(
            theirs.expires[cookie]
        )
        assert abs(apart.total_seconds()) <= 2
    return ours


@pytest.fixture
def fast():
    django = CountingDjango()
    return FastPage(django), django


def django_as_configured() -> WSGIHandler:
    """Django started under the current settings: SecurityMiddleware reads its settings
    when the process starts, so `django_application` (started before a test changed
    them) still sends the old ones, as a process that was not restarted would."""
    return WSGIHandler()


# --- The plain cases: answered by the layer, exactly as Django answers them -----------


@pytest.mark.parametrize(
    ("request_extra", "kept_secret"),
    [
        ({}, None),  # a first visit
        ({"Cookie": f"csrftoken={SECRET}"}, SECRET),
        ({"Cookie": f"theme=dark; csrftoken={SECRET}; other=1"}, SECRET),
        # Django before 4.0 kept the secret masked in the cookie: unmasked, then kept.
        ({"Cookie": f"csrftoken={masked(SECRET)}"}, SECRET),
        ({"Cookie": "csrftoken=not-a-valid-secret!"}, None),
        ({"Cookie": "csrftoken=short"}, None),
        ({"Cookie": "csrftoken="}, None),
        ({"Cookie": "messages=whatever; theme=dark"}, None),  # no messages shown: none read
        ({"QUERY_STRING": "name=Moby+Dock&utm_source=mail"}, None),  # GET ignores it
        ({"REQUEST_METHOD": "HEAD"}, None),
        ({"CONTENT_LENGTH": "0"}, None),
        ({"CONTENT_LENGTH": ""}, None),
    ],
)
def test_the_page_is_answered_without_django_exactly_as_django_answers_it(
    fast, request_extra, kept_secret
):
    layer, django = fast
    ours = assert_alike(call(layer, **request_extra), call(django_application, **request_extra))
    assert django.calls == 0
    assert ours.status == OK
    secret = ours.cookies["csrftoken"]
    assert re.fullmatch(r"[A-Za-z0-9]{32}", secret)
    if kept_secret:
        assert secret == kept_secret
    else:
        assert secret not in request_extra.get("Cookie", "")  # a new one


def test_the_page_is_the_views_page_for_joe_bloggs_with_its_token(fast):
    layer, _ = fast
    _, _, body = call(layer)
    token = TOKEN.search(body)[1].decode()
    name_hash = identity.hash_name(DEFAULT_NAME)
    assert body == home_page.fill(name=DEFAULT_NAME, name_hash=name_hash, csrf_token=token).encode()
    assert f"/monster/{name_hash}?size=80".encode() in body


def test_the_headers_are_djangos_in_djangos_order(fast):
    layer, _ = fast
    _, headers, body = call(layer)
    assert [name for name, _ in headers] == [
        "Content-Type",
        "Content-Security-Policy",
        "X-Frame-Options",
        "Vary",
        "Content-Length",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "Cross-Origin-Opener-Policy",
        "Set-Cookie",
    ]
    assert dict(headers)["Vary"] == "Cookie"
    assert dict(headers)["Content-Length"] == str(len(body))


@pytest.mark.parametrize("forwarded_proto", [None, "https", "http"])
def test_https_behind_a_trusted_proxy_gets_hsts_as_django_sends_it(fast, settings, forwarded_proto):
    layer, django = fast
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.CSRF_COOKIE_SECURE = True
    extra = {"X_Forwarded_Proto": forwarded_proto} if forwarded_proto else {}
    ours = assert_alike(call(layer, **extra), call(django_as_configured(), **extra))
    assert django.calls == 0
    hsts = dict(ours.headers).get("Strict-Transport-Security")
    assert hsts == ("max-age=3600; includeSubDomains" if forwarded_proto == "https" else None)


# --- Everything else: handed to Django unchanged -------------------------------------


@pytest.mark.parametrize(
    ("path", "method", "extra"),
    [
        ("/", "POST", {}),
        ("/", "PUT", {}),
        ("/", "OPTIONS", {}),
        ("/healthz", "GET", {}),
        (f"/m/{identity.hash_name(DEFAULT_NAME)}", "GET", {}),
        ("//", "GET", {}),
        ("", "GET", {}),  # Django reads an empty path as "/": the layer leaves it
        ("/", "GET", {"Host": "evil.example"}),
        ("/", "GET", {"Cookie": f"sessionid=abc; csrftoken={SECRET}"}),  # staff
        ("/", "GET", {"SCRIPT_NAME": "/identidock"}),
        ("/", "GET", {"CONTENT_LENGTH": "9", "CONTENT_TYPE": "application/x-www-form-urlencoded"}),
        ("/", "GET", {"Transfer_Encoding": "chunked"}),
    ],
)
def test_everything_else_is_handed_to_django_unchanged(fast, path, method, extra):
    layer, django = fast
    call(django_application)  # the page's pieces rendered at the root, as in production
    body = b"name=Moby" if extra.get("CONTENT_LENGTH") else b""
    ours = normalised(call(layer, path, method=method, body=body, **extra))
    theirs = normalised(call(django_application, path, method=method, body=body, **extra))
    assert django.calls == 1
    assert (ours.status, ours.headers, ours.body) == (theirs.status, theirs.headers, theirs.body)


def test_a_session_cookie_goes_to_django_which_drops_a_malformed_one(fast):
    """Why any session cookie is Django's: SessionMiddleware may answer it (here by
    deleting a cookie that cannot name a session)."""
    layer, django = fast
    status, headers, _ = call(layer, Cookie="sessionid=abc")
    assert status == OK and django.calls == 1
    assert (
        "Set-Cookie",
        ' sessionid=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax',
    ) in headers


def test_a_staff_members_session_goes_to_django(fast, admin_client):
    layer, django = fast
    session = admin_client.cookies["sessionid"].value
    assert call(layer, Cookie=f"sessionid={session}")[0] == OK
    assert django.calls == 1


def test_plain_http_is_left_to_django_when_it_redirects_to_https(settings):
    settings.SECURE_SSL_REDIRECT = True
    django = CountingDjango(django_as_configured())
    answer = call(FastPage(django))
    assert django.calls == 1
    assert answer == call(django_as_configured())
    assert answer[0].startswith(str(HTTPStatus.MOVED_PERMANENTLY.value))


def test_a_host_is_judged_by_the_current_settings(fast, settings):
    layer, django = fast
    call(layer)
    settings.ALLOWED_HOSTS = ["identidock.example"]
    status, _, _ = call(layer)
    assert status.startswith(str(HTTPStatus.BAD_REQUEST.value))
    assert django.calls == 1


@pytest.mark.parametrize(
    "changed",
    [
        {"CSRF_USE_SESSIONS": True},
        {"PREPEND_WWW": True},
        {"DISALLOWED_USER_AGENTS": [re.compile("curl")]},
        {"FORCE_SCRIPT_NAME": "/identidock/"},
        {"WHITENOISE_INDEX_FILE": True},
        {"MIDDLEWARE": fast_page.REPRODUCED_MIDDLEWARE[:-1]},
    ],
)
def test_settings_the_layer_does_not_reproduce_hand_the_page_to_django(fast, changed):
    layer, django = fast
    with override_settings(**changed):
        assert fast_page._settings_problem()
        call(layer)
    assert django.calls == 1


def test_the_shipped_settings_are_the_ones_the_layer_reproduces(settings):
    assert tuple(settings.MIDDLEWARE) == fast_page.REPRODUCED_MIDDLEWARE
    assert fast_page._settings_problem() == ""


# --- The layer follows the settings --------------------------------------------------


@pytest.mark.parametrize(
    "changed",
    [
        {"X_FRAME_OPTIONS": "sameorigin"},
        {"CSRF_COOKIE_NAME": "identidock_csrf"},
        {"CSRF_COOKIE_AGE": None},  # a browser-session cookie: no expiry
        {"CSRF_COOKIE_AGE": 3600, "CSRF_COOKIE_PATH": "/here"},
        {"CSRF_COOKIE_DOMAIN": ".example.com", "CSRF_COOKIE_SECURE": True},
        {"CSRF_COOKIE_HTTPONLY": True, "CSRF_COOKIE_SAMESITE": "Strict"},
        {"CSRF_COOKIE_SAMESITE": None},
        {"IDENTIDOCK_SALT": "another salt"},  # another hash for Joe Bloggs
    ],
)
def test_the_layer_follows_the_settings_django_reads_per_request(fast, changed):
    layer, django = fast
    call(layer)  # remembered for the old settings...
    with override_settings(**changed):  # ...and worked out anew
        name = changed.get("CSRF_COOKIE_NAME", "csrftoken")
        ours = assert_alike(call(layer), call(django_application), cookie=name)
        assert django.calls == 0
        if "X_FRAME_OPTIONS" in changed:
            assert ("X-Frame-Options", "SAMEORIGIN") in ours.headers
        if "IDENTIDOCK_SALT" in changed:
            assert identity.hash_name(DEFAULT_NAME).encode() in ours.body


@pytest.mark.parametrize(
    "changed",
    [
        {"SECURE_REFERRER_POLICY": "no-referrer, strict-origin"},
        {"SECURE_REFERRER_POLICY": None},
        {"SECURE_CROSS_ORIGIN_OPENER_POLICY": "same-origin-allow-popups"},
        {"SECURE_CONTENT_TYPE_NOSNIFF": False},
    ],
)
def test_the_layer_follows_a_changed_security_setting_as_a_restarted_django_would(fast, changed):
    layer, django = fast
    before = call(layer)
    with override_settings(**changed):
        ours = assert_alike(call(layer), call(django_as_configured()))
    assert django.calls == 0
    assert normalised(before).headers != ours.headers
    if changed.get("SECURE_REFERRER_POLICY"):
        assert ("Referrer-Policy", "no-referrer,strict-origin") in ours.headers


def test_a_policy_with_a_nonce_changes_nothing_on_a_page_that_uses_none(fast, settings):
    layer, django = fast
    from csp.constants import NONCE, SELF

    policy = settings.CONTENT_SECURITY_POLICY
    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {**policy["DIRECTIVES"], "script-src": [SELF, NONCE]}
    }
    ours = assert_alike(call(layer), call(django_application))
    assert django.calls == 0
    assert "nonce-" not in dict(ours.headers)["Content-Security-Policy"]


# --- The page's form works: the CSRF round trip ---------------------------------------


def _form_post(token: str, cookie: str) -> tuple[str, Any, bytes]:
    form = f"name=Moby+Dock&csrfmiddlewaretoken={token}".encode()
    return call(
        wsgi.application,
        method="POST",
        body=form,
        CONTENT_TYPE="application/x-www-form-urlencoded",
        CONTENT_LENGTH=str(len(form)),
        Cookie=cookie,
    )


def test_the_fast_pages_token_is_accepted_by_a_real_post(fast):
    layer, django = fast
    page = normalised(call(layer))
    assert django.calls == 0  # the layer's token and cookie, not Django's
    status, _, body = _form_post(page.token, f"csrftoken={page.cookies['csrftoken']}")
    assert status == OK
    assert identity.hash_name("Moby Dock").encode() in body


def test_the_shipped_application_pages_form_posts_back():
    page = normalised(call(wsgi.application))
    cookie = f"csrftoken={page.cookies['csrftoken']}"
    assert _form_post(page.token, cookie)[0] == OK
    other_token = masked(SECRET)  # masked, but another secret
    assert _form_post(other_token, cookie)[0].startswith(str(HTTPStatus.FORBIDDEN.value))


def test_the_shipped_wsgi_application_puts_the_page_layer_behind_the_image_layer():
    images = wsgi.application.application
    assert isinstance(images, FastImages)
    assert isinstance(images.application, FastPage)
    assert images.application.application is django_application
