"""Error answers: one line of plain text that says what was wrong, never a page of
HTML or a traceback (identidock/urls.py names them as Django's handlers, and
CSRF_FAILURE_VIEW the CSRF refusal), with the same security headers as every answer.

Django's own 403 for a failed CSRF check and its 500 are HTML pages with inline style,
which the site's own Content-Security-Policy blocks; these replace them.
"""

from __future__ import annotations

from http import HTTPStatus

from django.http import HttpRequest, HttpResponse

from monsters.images import answer
from monsters.web.middleware import plain_text


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return plain_text("Bad request: it could not be understood.", HTTPStatus.BAD_REQUEST, request)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return plain_text("Forbidden: you may not do that here.", HTTPStatus.FORBIDDEN, request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW. `reason` is one of Django's fixed sentences, never the
    client's input."""
    return plain_text(
        f"Forbidden: the form's security check failed ({reason.rstrip('.') or 'no reason'});"
        " reload the page and send it again.",
        HTTPStatus.FORBIDDEN,
        request,
    )


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return plain_text(
        "Not found: no page here (a monster's address is /monster/ and 64 hex digits).",
        HTTPStatus.NOT_FOUND,
        request,
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the details are in the log (with the request id), not in the answer."""
    return plain_text(answer.SERVER_ERROR, HTTPStatus.INTERNAL_SERVER_ERROR, request)
