"""The answer to an admin login while django-axes holds its user name and address
locked out (AXES_LOCKOUT_CALLABLE): the site's one-line refusal, with a Retry-After.

A lockout lasts the cool-off from the last failure axes counted, so the whole cool-off
from now is the longest the client may have to wait: an honest upper bound, which is
what a client needs from Retry-After.
"""

from __future__ import annotations

import math
from http import HTTPStatus
from typing import Any

from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse

from monsters.web.middleware import plain_text


def locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    response = plain_text(
        "Too many failed logins for this user from this address; try again later.",
        HTTPStatus.TOO_MANY_REQUESTS,
        request,
    )
    cool_off = get_cool_off(request)
    if cool_off is not None:
        response["Retry-After"] = str(max(1, math.ceil(cool_off.total_seconds())))
    response["Cache-Control"] = "no-store"
    return response
