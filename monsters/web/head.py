"""No body on HEAD, from Django either.

Django sends a HEAD answer's body as for GET (its test client, not its handler, strips
it); gunicorn then drops the bytes and logs a warning for every such request, which
any client can repeat. The layer in front of Django (`front.FastImages`) sends none
already; this does the same for whatever Django answers, keeping the GET's headers
(Content-Length included, as RFC 9110 allows for HEAD).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class NoBodyOnHead:
    def __init__(self, application: WSGIApplication) -> None:
        self.application = application

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = self.application(environ, start_response)
        if environ.get("REQUEST_METHOD") != "HEAD":
            return body
        close = getattr(body, "close", None)
        if close is not None:
            close()  # Django's request_finished (connections back, and so on)
        return []
