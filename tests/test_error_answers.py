"""Every error answer Django gives is one line of plain text with the same security
headers as any other answer (those Django's SecurityMiddleware and
XFrameOptionsMiddleware add), wherever in the stack it is produced: the refusals
before the stack runs, a bad Host, a failed CSRF check, a 404 and a 500."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path

from identidock import urls as site_urls
from monsters.images import headers
from tests.form_client import FORM, FormClient

pytestmark = pytest.mark.django_db


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


# This module as a URLconf: the site's, plus a view that fails.
urlpatterns = [path("boom", boom), *site_urls.urlpatterns]
handler400 = site_urls.handler400
handler403 = site_urls.handler403
handler404 = site_urls.handler404
handler500 = site_urls.handler500


def assert_one_line_with_security_headers(response, status: int) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    body = response.content.decode()
    assert body.count("\n") == 1 and body.endswith("\n") and "<" not in body
    expected = headers.django_headers(secure=False)
    assert {"X-Frame-Options", "X-Content-Type-Options"} <= {name for name, _ in expected}
    for name, value in expected:
        assert response.get(name) == value, name


def test_a_failed_csrf_check():
    response = FormClient(enforce_csrf_checks=True).post("/", {"name": "Moby"})
    assert_one_line_with_security_headers(response, HTTPStatus.FORBIDDEN)
    assert "security check" in response.content.decode()


def test_a_server_error(settings):
    settings.ROOT_URLCONF = __name__
    response = Client(raise_request_exception=False).get("/boom")
    assert_one_line_with_security_headers(response, HTTPStatus.INTERNAL_SERVER_ERROR)
    assert "a bug" not in response.content.decode()


def test_a_host_outside_allowed_hosts():
    response = Client().get("/", HTTP_HOST="evil.example")
    assert_one_line_with_security_headers(response, HTTPStatus.BAD_REQUEST)


@pytest.mark.parametrize(
    "request_it, status",
    [
        (lambda c: c.put("/healthz"), HTTPStatus.METHOD_NOT_ALLOWED),
        (lambda c: c.delete("/"), HTTPStatus.METHOD_NOT_ALLOWED),
        (lambda c: c.post("/", "x", content_type="text/plain"), HTTPStatus.UNSUPPORTED_MEDIA_TYPE),
        (
            lambda c: c.post("/", "name=" + "x" * 20_000, content_type=FORM),
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        ),
        (lambda c: c.get("/nowhere"), HTTPStatus.NOT_FOUND),
    ],
    ids=["405 image route", "405 home", "415", "413", "404"],
)
def test_refusals_before_and_inside_the_stack(request_it, status):
    assert_one_line_with_security_headers(request_it(FormClient()), status)
