"""The image views: the one image function's answer, and the render it asks for.

`answer.answer()` answers a request whole (a hit, a 304, a redirect, a refusal) or says
the image must be drawn; only then does a view spend a rate-limit token and ask the
service for a render. Renderer failures become status codes here, in one place.
"""

from __future__ import annotations

import math
from http import HTTPStatus

from csp.decorators import csp_exempt
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from monsters.guards import clients, rate_limit, sources
from monsters.images import answer, headers, service
from monsters.metrics import RATE_LIMITED
from monsters.models import Generation

RETRY_AFTER_SECONDS = 5


# Images set their own headers (headers.py: an SVG gets a policy of its own, PNG and
# WebP run nothing); the front layer answers hits with exactly those headers. (django-csp
# types its decorator for views that take the request alone.)
@csp_exempt()  # type: ignore[arg-type]
@require_safe
def monster(request: HttpRequest, name_hash: str, extension: str | None = None) -> HttpResponse:
    """The public image route, as the original app had it (plus `size` and `v`), and
    with an extension for each format; without one it is PNG."""
    return serve_image(request, answer.PUBLIC, origin=Generation.Origin.WEB, limited=True)


@csp_exempt()  # type: ignore[arg-type]
@require_safe
def avatar(request: HttpRequest, avatar_hash: str, extension: str | None = None) -> HttpResponse:
    """Gravatar's URL API (monsters/avatars/): drawn from a keyed id, never the hash."""
    response = serve_image(request, answer.AVATAR, origin=Generation.Origin.AVATAR, limited=True)
    # The image function's answers carry it already; a 429 or 503 too, so a site's
    # script sees the status rather than an opaque CORS failure.
    response["Access-Control-Allow-Origin"] = "*"
    return response


def serve_image(
    request: HttpRequest, route: answer.Route, *, origin: str, limited: bool
) -> HttpResponse:
    """The image function's answer for `route`; when it needs a render: 429 when the
    client is over its limit (`limited`), the image, or 503/504 when the renderer
    fails."""
    outcome = answer.handed_on(request.META) or answer.answer(
        answer.ImageRequest.from_environ(request.META, secure=request.is_secure()), route
    )
    if outcome is None:  # the URL patterns and the route's pattern disagree: a bug
        raise LookupError(f"{request.path_info} is not an image of this route")
    if isinstance(outcome, answer.Reply):
        return as_response(outcome)
    claim = None
    if limited:
        admitted = service.admit_miss(
            outcome.address, misses_limit(), clients.client_address(request)
        )
        if not admitted.decision.allowed:
            return too_many(
                admitted.decision, "Too many new monsters at once; please wait a moment."
            )
        claim = admitted.claim
    try:
        picture = service.get_picture(
            outcome.address, origin=origin, cache_checked=outcome.cache_checked, claim=claim
        )
    except sources.SourceError as exc:
        return source_failure(exc)
    return as_response(outcome.reply(picture))


def as_response(reply: answer.Reply) -> HttpResponse:
    """The Reply as Django's response, with exactly its headers, in its order."""
    response = HttpResponse(reply.body, status=reply.status)
    del response["Content-Type"]
    for name, value in reply.headers:
        response[name] = value
    return response


def misses_limit() -> rate_limit.Limit:
    return rate_limit.Limit(
        "misses", settings.RATE_LIMIT_MISSES_PER_MINUTE, settings.RATE_LIMIT_MISS_BURST
    )


def too_many(decision: rate_limit.Decision, reason: str) -> HttpResponse:
    RATE_LIMITED.labels(decision.limit.scope).inc()
    response = plain_text(f"{reason}\n", HTTPStatus.TOO_MANY_REQUESTS)
    response["Cache-Control"] = headers.FAILURE_CACHE_CONTROL
    for header, value in decision.headers():
        response[header] = value
    return response


def source_failure(exc: sources.SourceError) -> HttpResponse:
    """The one place renderer failures become status codes."""
    if isinstance(exc, sources.FormatUnavailable):
        # Not a failure to retry: this renderer never gives that format. The answer
        # follows the configuration, which a deploy can change: kept by nobody.
        response = plain_text(f"{exc}\n", HTTPStatus.NOT_ACCEPTABLE)
        response["Cache-Control"] = headers.FAILURE_CACHE_CONTROL
        return response
    if isinstance(exc, sources.SourceTimeout):
        status, reason = HTTPStatus.GATEWAY_TIMEOUT, "timed out"
    else:
        status, reason = HTTPStatus.SERVICE_UNAVAILABLE, "is unavailable"
    response = plain_text(f"The monster renderer {reason}; please try again shortly.\n", status)
    response["Cache-Control"] = headers.FAILURE_CACHE_CONTROL
    retry_after = (
        math.ceil(exc.retry_after)
        if isinstance(exc, sources.RendererSkipped)
        else RETRY_AFTER_SECONDS
    )
    response["Retry-After"] = str(max(1, retry_after))
    return response


def plain_text(text: str, status: int) -> HttpResponse:
    return HttpResponse(text, content_type=headers.TEXT, status=status)
