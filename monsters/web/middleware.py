"""Request shape, checked before anything reads a body or a CSRF token.

- Images (in every format), monsters' own pages and probes take GET and HEAD only, the
  home page GET, HEAD and POST: anything else is 405 with `Allow`, before the CSRF
  check could turn it into a misleading 403.
- A request body is a form (`application/x-www-form-urlencoded`) or nothing: multipart
  and anything else is 415 before Django would parse it (and spool files to disk);
  one larger than DATA_UPLOAD_MAX_MEMORY_SIZE is 413 before it is read. An image
  request's body is left to the image function (`answer.answer`), which refuses any
  body alike, whichever layer answers and whether the image is cached or not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from monsters.avatars.route import AVATAR
from monsters.images import answer, headers, identity

FORM = "application/x-www-form-urlencoded"
_IMAGE_ROUTES = (answer.PUBLIC.path, answer.STAFF.path, AVATAR.path)
_OTHER_READ_ONLY = re.compile(rf"/(m/{identity.NAME_HASH_PATTERN}|healthz|readyz|favicon\.ico)")
READ_ONLY_METHODS = ("GET", "HEAD")
FORM_METHODS = ("GET", "HEAD", "POST")  # the home page's


def plain_text(reason: str, status: int, request: HttpRequest) -> HttpResponse:
    """A one-line reason, never a page or a traceback, with the security headers every
    answer carries: worked out by Django's own middlewares (`headers.django_headers`),
    since an error may be answered before or without them (a refusal here comes before
    XFrameOptionsMiddleware, a bad Host's 400 before most of the stack)."""
    response = HttpResponse(f"{reason}\n", content_type="text/plain; charset=utf-8", status=status)
    for name, value in headers.django_headers(request.is_secure()):
        response[name] = value
    return response


class RequestShapeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = _refusal(request)
        return refusal if refusal is not None else self.get_response(request)


def _refusal(request: HttpRequest) -> HttpResponse | None:
    path = request.path_info
    image = any(route.fullmatch(path) for route in _IMAGE_ROUTES)
    allowed = _allowed_methods(path, image=image)
    if allowed and request.method not in allowed:
        response = plain_text(
            f"{request.method} is not allowed here; use {' or '.join(allowed)}.",
            HTTPStatus.METHOD_NOT_ALLOWED,
            request,
        )
        response["Allow"] = ", ".join(allowed)
        return response
    length = request.META.get("CONTENT_LENGTH") or "0"
    has_body = length != "0" or "HTTP_TRANSFER_ENCODING" in request.META
    if not has_body or image:
        return None
    if request.content_type != FORM:
        return plain_text(
            f"Send the form as {FORM}, not {request.content_type or 'an unnamed type'}.",
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            request,
        )
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if length.isdigit() and int(length) > limit:
        return plain_text(
            f"The request body is larger than {limit} bytes.",
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            request,
        )
    return None


def _allowed_methods(path: str, *, image: bool) -> tuple[str, ...]:
    """The methods `path` takes, or () for routes whose views decide for themselves."""
    if image or _OTHER_READ_ONLY.fullmatch(path):
        return READ_ONLY_METHODS
    if path == "/":
        return FORM_METHODS
    return ()
