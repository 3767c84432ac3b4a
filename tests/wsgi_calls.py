"""One WSGI request at a time, straight to an application (a layer in front of Django,
or Django itself), for the tests that compare two layers' answers."""

from __future__ import annotations

import io
from typing import Any

from identidock.wsgi import django_application


class CountingDjango:
    """An application (Django's by default), counting the requests that reach it."""

    def __init__(self, application: Any = django_application) -> None:
        self.application = application
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.application(environ, start_response)


def call(app, path: str = "/", query: str = "", method: str = "GET", body: bytes = b"", **extra):
    """(status, headers, body) of one WSGI request to `app`. `extra`: environ keys, or
    headers by their name (`Cookie=...`, `If_None_Match=...`).

    The headers come sorted by name: HTTP gives the order of different fields no
    meaning, so two answers alike are equal whatever order each app wrote them in.
    Fields of one name keep their order, which can mean something."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
    }
    for name, value in extra.items():
        environ[name if name.isupper() else "HTTP_" + name.upper()] = value
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"], answer["headers"] = status, response_headers

    chunks = app(environ, start_response)
    try:
        content = b"".join(chunks)
    finally:
        if close := getattr(chunks, "close", None):
            close()  # as a server does: Django's request_finished handlers run here
    headers = sorted(answer["headers"], key=lambda field: field[0].lower())
    return answer["status"], headers, content
