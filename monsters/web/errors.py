"""Error answers: one line of plain text that says what was wrong, never a page of
HTML or a traceback (identidock/urls.py names them as Django's handlers)."""

from __future__ import annotations

from http import HTTPStatus

from django.http import HttpRequest, HttpResponse

from monsters.web.middleware import plain_text


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return plain_text("Bad request: it could not be understood.", HTTPStatus.BAD_REQUEST)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return plain_text("Forbidden: you may not do that here.", HTTPStatus.FORBIDDEN)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return plain_text(
        "Not found: no page here (a monster's address is /monster/ and 64 hex digits).",
        HTTPStatus.NOT_FOUND,
    )
