"""Who is asking: the client's address, as the trusted proxy saw it.

gunicorn puts the socket's peer in REMOTE_ADDR, which behind nginx is nginx itself.
nginx appends the client's address to X-Forwarded-For; that header is believed only
when the peer is one of FORWARDED_ALLOW_IPS (the same setting gunicorn trusts its
forwarded headers by), so nobody else can choose the address they are limited by.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    return address_from(request.META)


def address_from(meta: Mapping[str, Any]) -> str:
    """The client's address from a WSGI environ or request.META."""
    peer = str(meta.get("REMOTE_ADDR", ""))
    forwarded = str(meta.get("HTTP_X_FORWARDED_FOR", ""))
    if forwarded and _trusted(peer, tuple(settings.FORWARDED_ALLOW_IPS)):
        # The rightmost entry is the one the trusted proxy added.
        return forwarded.rsplit(",", 1)[-1].strip() or peer
    return peer


@functools.lru_cache(maxsize=256)
def _trusted(peer: str, allowed: tuple[str, ...]) -> bool:
    if "*" in allowed:
        return True
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(entry, strict=False) for entry in allowed)
