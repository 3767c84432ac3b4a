"""A miss, whichever layer asks: what follows the image function's `RenderNeeded`.

The client's rate-limit token and the lead of the image's single flight (one Redis
round trip), the render, and the answer: the image, a 429 when the client is over its
limit, or the status a renderer's failure calls for (406, 503, 504): the one place a
renderer's failure becomes a status code. The front layer (`front.FastImages`) calls
`draw()` for the public routes, the views for any route they are asked directly (the
staff thumbnails, Django's test client): one path, so a client cannot tell which layer
drew its image, or refused to.
"""

from __future__ import annotations

import math
from http import HTTPStatus

from django.conf import settings

from monsters.guards import rate_limit, sources
from monsters.images import answer, service
from monsters.metrics import RATE_LIMITED

RETRY_AFTER_SECONDS = 5
TOO_MANY_MISSES = "Too many new monsters at once; please wait a moment."


def draw(needed: answer.RenderNeeded, route: answer.Route, *, client: str) -> answer.Reply:
    """The answer to `needed` on `route`, for `client` (clients.address_from)."""
    claim = None
    if route.limited:
        admitted = service.admit_miss(needed.address, misses_limit(), client)
        if not admitted.decision.allowed:
            return too_many(needed, admitted.decision, TOO_MANY_MISSES)
        claim = admitted.claim
    try:
        picture = service.get_picture(
            needed.address, origin=route.origin, cache_checked=needed.cache_checked, claim=claim
        )
    except sources.SourceError as exc:
        return source_failure(needed, exc)
    return needed.reply(picture)


def misses_limit() -> rate_limit.Limit:
    return rate_limit.Limit(
        "misses", settings.RATE_LIMIT_MISSES_PER_MINUTE, settings.RATE_LIMIT_MISS_BURST
    )


def too_many(
    needed: answer.RenderNeeded, decision: rate_limit.Decision, reason: str
) -> answer.Reply:
    RATE_LIMITED.labels(decision.limit.scope).inc()
    return needed.refusal(reason, HTTPStatus.TOO_MANY_REQUESTS, decision.headers())


def source_failure(needed: answer.RenderNeeded, exc: sources.SourceError) -> answer.Reply:
    """The one place renderer failures become status codes."""
    if isinstance(exc, sources.FormatUnavailable):
        # Not a failure to retry: this renderer never gives that format. The answer
        # follows the configuration, which a deploy can change: kept by nobody.
        return needed.refusal(str(exc), HTTPStatus.NOT_ACCEPTABLE)
    if isinstance(exc, sources.SourceTimeout):
        status, reason = HTTPStatus.GATEWAY_TIMEOUT, "timed out"
    else:
        status, reason = HTTPStatus.SERVICE_UNAVAILABLE, "is unavailable"
    retry_after = (
        math.ceil(exc.retry_after)
        if isinstance(exc, sources.RendererSkipped)
        else RETRY_AFTER_SECONDS
    )
    return needed.refusal(
        f"The monster renderer {reason}; please try again shortly.",
        status,
        [("Retry-After", str(max(1, retry_after)))],
    )
