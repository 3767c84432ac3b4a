"""A thin WSGI layer in front of Django that answers image hits and revalidations.

The way whitenoise wraps the WSGI application to serve static files, `FastImages`
looks at `GET|HEAD` image requests before Django does and asks the one image function
(`answer.answer`) for the answer. What that function answers whole (a hit, a 304, a
redirect from an old `v`, a bad size, a body, a format the renderer cannot give) is
sent from here, exactly as the view would send it; a miss is drawn here too, by the
function the view calls (`miss.draw`: the rate limit, single flight, the render and its
audit row), so a miss pays for no Django request cycle it does not use.

Everything else goes to Django unchanged: hosts Django does not serve, plain HTTP that
Django redirects to HTTPS, other methods, every other path.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import close_old_connections

from monsters.avatars.route import AVATAR
from monsters.guards import clients
from monsters.images import answer, site
from monsters.web import miss

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


logger = logging.getLogger(__name__)

# The public image routes: monsters and avatars (staff thumbnails need Django's login).
_ROUTES = (answer.PUBLIC, AVATAR)


class FastImages:
    """Wraps a WSGI application; answers image requests itself, passes the rest on."""

    def __init__(self, application: WSGIApplication) -> None:
        self.application = application

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            reply = self._reply(environ)
        except Exception:
            # A bug, or a failure no guard expected: the one-line 500 Django's handler
            # would give, not gunicorn's page. (The path stays out: an avatar's is an
            # email's hash; the access log has it redacted, under the same request id.)
            logger.exception("An image request failed")
            secure = site.served_securely(environ) is True
            reply = answer.server_error(secure=secure, head=environ["REQUEST_METHOD"] == "HEAD")
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
            return _draw(outcome, route, environ)
        return outcome


def _draw(
    needed: answer.RenderNeeded, route: answer.Route, environ: WSGIEnvironment
) -> answer.Reply:
    # A miss may write its audit row in this thread (with the write-behind off, or
    # Redis out of reach), and no Django request begins or ends here to retire a
    # database connection too old or broken: done here, as Django's documentation
    # asks of code that uses the database outside a request.
    close_old_connections()
    try:
        return miss.draw(needed, route, client=clients.address_from(environ))
    finally:
        close_old_connections()
