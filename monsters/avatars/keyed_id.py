"""The id an avatar is drawn from: never the hash a client sent.

A client's MD5 or SHA-256 of an email is reversible with a list of emails, so it is
keyed with the server's secret (HMAC-SHA256 under IDENTIDOCK_SALT) at once, in the
request, and only the keyed id goes on: to the cache key, the renderer, the audit log,
the log lines and the metrics. Changing the salt changes every avatar.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings


def keyed_id(received_hash: str) -> str:
    """64 hex characters: HMAC-SHA256(IDENTIDOCK_SALT, the hash lowercased). Lowercased
    first, since the hex of one email may come in either case."""
    key = settings.IDENTIDOCK_SALT.encode("utf-8")
    return hmac.new(key, received_hash.lower().encode("ascii"), hashlib.sha256).hexdigest()
