"""Logging filters: keep the log to one line per change of state, not one per request."""

from __future__ import annotations

import logging
from http import HTTPStatus

# Answers that say a dependency is down or a client is over its limit: the breakers log
# the change of state once, so Django's line per such response would only repeat it.
EXPECTED_STATUSES = frozenset(
    {HTTPStatus.SERVICE_UNAVAILABLE, HTTPStatus.GATEWAY_TIMEOUT, HTTPStatus.TOO_MANY_REQUESTS}
)


def not_an_expected_outage(record: logging.LogRecord) -> bool:
    """For `django.request`: drop the per-request lines of 503, 504 and 429 answers."""
    return getattr(record, "status_code", None) not in EXPECTED_STATUSES
