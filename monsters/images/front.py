"""A thin WSGI layer in front of Django that answers image hits and revalidations.

The way whitenoise wraps the WSGI application to serve static files, `FastImages`
looks at `GET|HEAD` image requests before Django does and asks the one image function
(`answer.answer`) for the answer. What that function answers whole (a hit, a 304, a
redirect from an old `v`, a bad size, a body, a format the renderer cannot give) is
sent from here, exactly as the view would send it; a miss goes on to Django with its
`RenderNeeded`, so the view neither parses the request nor reads the cache again.

Everything else goes to Django unchanged: hosts Django does not serve, plain HTTP that
Django redirects to HTTPS, other methods, every other path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from monsters.images import answer, site

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


# The public image routes: monsters and avatars (staff thumbnails need Django's login).
_ROUTES = (answer.PUBLIC, answer.AVATAR)


class FastImages:
    """Wraps a WSGI application; answers image requests itself, passes the rest on."""

    def __init__(self, application: WSGIApplication) -> None:
        self.application = application

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        reply = self._reply(environ)
        if reply is None:
            return self.application(environ, start_response)
        start_response(reply.status_line, list(reply.headers))
        return [reply.body] if reply.body else []

    def _reply(self, environ: WSGIEnvironment) -> answer.Reply | None:
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return None
        path = environ.get("PATH_INFO", "")
        route = next((route for route in _ROUTES if route.path.fullmatch(path)), None)
        if route is None:
            return None
        secure = site.served_securely(environ)
        if secure is site.NOT_OURS:
            return None  # Django answers a host it does not serve (400), or redirects to HTTPS
        outcome = answer.answer(answer.ImageRequest.from_environ(environ, secure=secure), route)
        if isinstance(outcome, answer.RenderNeeded):
            answer.hand_on(environ, outcome)
            return None
        return outcome
