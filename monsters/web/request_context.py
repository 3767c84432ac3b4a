"""The outermost WSGI layer: a request id for every request, and a count of every answer
by route and status, whichever layer gave it (the fast image layer or Django).

The id is the proxy's X-Request-ID (nginx's $request_id) when it sent a plausible one,
else a new one; it is echoed in the response's X-Request-ID, so gunicorn's access log
and the app's own log lines (LOG_FORMAT=json) carry the same id.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterable
from contextvars import ContextVar
from functools import cache
from typing import TYPE_CHECKING, Any

from monsters.metrics import REQUESTS

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")
_PLAUSIBLE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Routes as metric labels: a handful, never the path itself (unbounded).
_ROUTES = (
    ("monster", re.compile(r"/monster/")),
    ("avatar", re.compile(r"/avatar/")),
    ("staff-monster", re.compile(r"/admin/monsters/generation/monster/")),
    ("admin", re.compile(r"/admin/")),
    ("static", re.compile(r"/static/")),
    ("probe", re.compile(r"/(healthz|readyz)$")),
    ("page", re.compile(r"/$")),
)


@cache
def _counter(route: str, status: str) -> Any:
    """The request counter's child for a label pair, resolved once (both are few)."""
    return REQUESTS.labels(route, status)


def _new_id() -> str:
    """128 random bits in hex. An id to find log lines by, not a secret: the module's
    generator (reseeded in every forked worker) costs no system call, as `secrets` does
    on every request."""
    return f"{random.getrandbits(128):032x}"


def route_of(path: str) -> str:
    for route, pattern in _ROUTES:
        if pattern.match(path):
            return route
    return "other"


class RequestContext:
    def __init__(self, application: WSGIApplication) -> None:
        self.application = application

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        given = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = given if _PLAUSIBLE_ID.fullmatch(given) else _new_id()
        route = route_of(environ.get("PATH_INFO", ""))

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            _counter(route, status[:3]).inc()
            headers.append(("X-Request-ID", request_id))
            return start_response(status, headers, exc_info)

        token = REQUEST_ID.set(request_id)
        try:
            return self.application(environ, start)
        finally:
            REQUEST_ID.reset(token)


class RequestIdFilter(logging.Filter):
    """Gives every log record the id of the request it was logged in ("-" outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True
