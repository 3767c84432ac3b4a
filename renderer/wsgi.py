"""A dnmonster-compatible WSGI app: `GET /monster/<id>?size=N` answers a PNG.

Stdlib only, so the renderer can run as its own small service:

    gunicorn renderer.wsgi:app

`width` and `height` default to `size`, `size` to DEFAULT_SIZE. Bad input gets a 400 with
a one-line reason, never a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from http import HTTPStatus
from urllib.parse import parse_qs

from renderer.art import DEFAULT_SIZE, MAX_SIZE, MIN_SIZE, render_canvas

StartResponse = Callable[..., object]
Environ = dict[str, object]

MONSTER_PREFIX = "/monster/"
HEALTH_PATH = "/healthz"
ALLOWED_METHODS = ("GET", "HEAD")
MAX_ID_LENGTH = 128
_ID = re.compile(r"[A-Za-z0-9_.~-]+")
# At most four digits: anything longer is out of range anyway, and int() stays cheap.
_DIMENSION = re.compile(r"[0-9]{1,4}")
# The query nearly every client sends; anything else goes through parse_qs.
_SIZE_ONLY = re.compile(r"size=([0-9]{1,4})")
_STATUS_LINES = {status: f"{status.value} {status.phrase}" for status in HTTPStatus}


class BadRequest(ValueError):
    """The request is malformed; the message is the one-line reason sent to the client."""


def _respond(
    start_response: StartResponse,
    method: str,
    status: HTTPStatus,
    body: bytes,
    content_type: str,
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> list[bytes]:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    headers.extend(extra_headers)
    start_response(_STATUS_LINES[status], headers)
    # HEAD gets the same headers as GET, Content-Length included, but no body.
    return [] if method == "HEAD" else [body]


def _text(
    start_response: StartResponse,
    method: str,
    status: HTTPStatus,
    message: str,
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> list[bytes]:
    body = (message + "\n").encode("utf-8")
    content_type = "text/plain; charset=utf-8"
    return _respond(start_response, method, status, body, content_type, extra_headers)


def _dimension_value(name: str, raw: str) -> int:
    if not _DIMENSION.fullmatch(raw) or not MIN_SIZE <= int(raw) <= MAX_SIZE:
        raise BadRequest(f"{name} must be an integer from {MIN_SIZE} to {MAX_SIZE}")
    return int(raw)


def _dimension(query: dict[str, list[str]], name: str, default: int) -> int:
    values = query.get(name)
    if not values:
        return default
    if len(values) > 1:
        raise BadRequest(f"{name} given more than once")
    return _dimension_value(name, values[0])


def parse_monster_request(identifier: str, query_string: str) -> tuple[str, int, int]:
    """Validate a monster request: (identifier, width, height), or BadRequest."""
    if not 1 <= len(identifier) <= MAX_ID_LENGTH:
        raise BadRequest(f"id must be 1 to {MAX_ID_LENGTH} characters long")
    if not _ID.fullmatch(identifier):
        raise BadRequest("id may only contain letters, digits, '-', '_', '.' and '~'")
    if not query_string:
        return identifier, DEFAULT_SIZE, DEFAULT_SIZE
    size_only = _SIZE_ONLY.fullmatch(query_string)
    if size_only:
        size = _dimension_value("size", size_only[1])
        return identifier, size, size
    query = parse_qs(query_string, keep_blank_values=True)
    size = _dimension(query, "size", DEFAULT_SIZE)
    width = _dimension(query, "width", size)
    height = _dimension(query, "height", size)
    return identifier, width, height


def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """The WSGI entry point."""
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    path = str(environ.get("PATH_INFO", "") or "/")
    if path != HEALTH_PATH and not path.startswith(MONSTER_PREFIX):
        return _text(start_response, method, HTTPStatus.NOT_FOUND, "not found")
    if method not in ALLOWED_METHODS:
        allow = (("Allow", ", ".join(ALLOWED_METHODS)),)
        return _text(
            start_response, method, HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed", allow
        )
    if path == HEALTH_PATH:
        return _text(start_response, method, HTTPStatus.OK, "ok")
    try:
        identifier, width, height = parse_monster_request(
            path[len(MONSTER_PREFIX) :], str(environ.get("QUERY_STRING", ""))
        )
    except BadRequest as error:
        return _text(start_response, method, HTTPStatus.BAD_REQUEST, str(error))
    png = render_canvas(identifier, width, height)
    return _respond(start_response, method, HTTPStatus.OK, png, "image/png")
