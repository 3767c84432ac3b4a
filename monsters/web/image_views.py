"""The image views: the one image function's answer, and on a miss `miss.draw()`.

In production the front layer (`monsters.web.front`) answers the public routes
before Django does, by the same two functions; these views answer them when Django is
asked directly, and the staff thumbnails (behind the admin's login) always.
"""

from __future__ import annotations

from csp.decorators import csp_exempt
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from monsters.avatars.route import AVATAR
from monsters.guards import clients
from monsters.images import answer
from monsters.web import miss


# Images set their own headers (headers.py: an SVG gets a policy of its own, PNG and
# WebP run nothing); the front layer answers with exactly those headers. (django-csp
# types its decorator for views that take the request alone.)
@csp_exempt()  # type: ignore[arg-type]
@require_safe
def monster(request: HttpRequest, name_hash: str, extension: str | None = None) -> HttpResponse:
    """The public image route, as the original app had it (plus `size` and `v`), and
    with an extension for each format; without one it is PNG."""
    return serve_image(request, answer.PUBLIC)


@csp_exempt()  # type: ignore[arg-type]
@require_safe
def avatar(request: HttpRequest, avatar_hash: str, extension: str | None = None) -> HttpResponse:
    """Gravatar's URL API (monsters/avatars/): drawn from a keyed id, never the hash.
    Every answer, a 429 or 503 too, lets any site's script read it (the route's
    `cors`), so a script sees the status rather than an opaque CORS failure."""
    return serve_image(request, AVATAR)


def serve_image(request: HttpRequest, route: answer.Route) -> HttpResponse:
    """The image function's answer for `route`, drawing the image when it must."""
    outcome = answer.answer(
        answer.ImageRequest.from_environ(request.META, secure=request.is_secure()), route
    )
    if outcome is None:  # the URL patterns and the route's pattern disagree: a bug
        raise LookupError(f"{request.path_info} is not an image of this route")
    if isinstance(outcome, answer.RenderNeeded):
        outcome = miss.draw(outcome, route, client=clients.client_address(request))
    return as_response(outcome)


def as_response(reply: answer.Reply) -> HttpResponse:
    """The Reply as Django's response, with exactly its headers, in its order."""
    response = HttpResponse(reply.body, status=reply.status)
    del response["Content-Type"]
    for name, value in reply.headers:
        response[name] = value
    return response
