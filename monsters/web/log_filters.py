"""Logging filters: keep the log to one line per change of state, not one per request."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from identidock.redaction import redact

# Answers that say a dependency is down or a client is over its limit: the breakers log
# the change of state once, so Django's line per such response would only repeat it.
EXPECTED_STATUSES = frozenset(
    {HTTPStatus.SERVICE_UNAVAILABLE, HTTPStatus.GATEWAY_TIMEOUT, HTTPStatus.TOO_MANY_REQUESTS}
)

# The longest Host a refusal line repeats.
MAX_HOST_SHOWN = 80


def not_an_expected_outage(record: logging.LogRecord) -> bool:
    """For `django.request`: drop the per-request lines of 503, 504 and 429 answers."""
    return getattr(record, "status_code", None) not in EXPECTED_STATUSES


class RefusedHosts(logging.Filter):
    """For `django.security.DisallowedHost`: one short WARNING line for a Host outside
    ALLOWED_HOSTS, at most one every `interval` seconds per process, saying how many
    were left out since the last one.

    Django logs each such request at ERROR with a whole traceback. It is the client's
    mistake (a scanner, a misconfigured DNS name), never ours, and anyone can send any
    number of them: a log line each, let alone a traceback each, lets a client flood
    the log and bury what matters."""

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._next_at = -math.inf
        self._left_out = 0

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            now = self.clock()
            if now < self._next_at:
                self._left_out += 1
                return False
            left_out, self._left_out = self._left_out, 0
            self._next_at = now + self.interval
        record.msg = "Refused a request for host %s, not in ALLOWED_HOSTS (400)%s"
        record.args = (_host_of(record), _left_out_note(left_out, self.interval))
        record.exc_info = record.exc_text = record.stack_info = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _host_of(record: logging.LogRecord) -> str:
    """The Host the client sent, quoted and cut short: the client chose it."""
    request = getattr(record, "request", None)
    meta = getattr(request, "META", {})
    host = str(meta.get("HTTP_HOST") or meta.get("SERVER_NAME") or "")
    shown = host[:MAX_HOST_SHOWN] + ("..." if len(host) > MAX_HOST_SHOWN else "")
    return ascii(shown)


def _left_out_note(left_out: int, interval: float) -> str:
    if not left_out:
        return ""
    return f"; {left_out} more refused hosts in the last {interval:g} s not logged"


# What every record has: anything else was added by its caller (`extra`, Django's
# `request` and `status_code`), and a JSON formatter writes it.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class RedactAvatarPaths(logging.Filter):
    """For the console handler: an avatar path in a log line (Django's "Not Found:
    /avatar/...", a 405) is written `/avatar/<redacted>`, never with the client's email
    hash, in the message and in what the record carries besides (its `request`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        for name, value in list(vars(record).items()):
            if name not in _RECORD_ATTRIBUTES:
                setattr(record, name, _redacted_extra(value))
        return True


def _redacted_extra(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return redact(value) if isinstance(value, str) else value
    shown = repr(value)  # a request: what a formatter would write for it
    return redact(shown) if redact(shown) != shown else value
