"""What the thin WSGI layers in front of Django (`fast_images`, `fast_page`) share: a
request a layer can answer itself is answered there; every other one goes on to the
application it wraps, unchanged."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

Headers = list[tuple[str, str]]
Answer = tuple[str, Headers, bytes]  # status line, headers, body


class FrontLayer:
    """Wraps a WSGI application; answers what `answer()` gives, passes the rest on."""

    def __init__(self, application: WSGIApplication) -> None:
        self.application = application

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        answer = self.answer(environ)
        if answer is None:
            return self.application(environ, start_response)
        status, headers, body = answer
        start_response(status, headers)
        # As Django does, HEAD gets the body too: the server drops it (gunicorn does).
        return [body]

    def answer(self, environ: WSGIEnvironment) -> Answer | None:
        """The layer's own answer to this request, or None to hand it on."""
        raise NotImplementedError
