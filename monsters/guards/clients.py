"""Who is asking: the client's address, as the trusted proxy saw it.

gunicorn puts the socket's peer in REMOTE_ADDR, which behind nginx is nginx itself.
nginx appends the client's address to X-Forwarded-For; that header is believed only
when the peer is one of FORWARDED_ALLOW_IPS (the same setting gunicorn trusts its
forwarded headers by), so nobody else can choose the address they are limited by.

The address is the key of a client's rate-limit buckets and of its admin-login
failures, so one client must have one spelling of it: `::1` and `0::1`, or
`::ffff:127.0.0.1` and `127.0.0.1`, are the same client. And an IPv6 client is known
by its /64: one subscriber or host is given a whole /64 and may use any of its 2**64
addresses, so counting each address apart would let it step round every limit. A /64
is written as its first address (`2001:db8:1:2::`), which is still an IP address (as
django-axes stores it).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest

IPV6_CLIENT_PREFIX = 64

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def client_address(request: HttpRequest) -> str:
    return address_from(request.META)


def address_from(meta: Mapping[str, Any]) -> str:
    """The client's address from a WSGI environ or request.META, normalised."""
    peer = str(meta.get("REMOTE_ADDR", ""))
    forwarded = str(meta.get("HTTP_X_FORWARDED_FOR", ""))
    if forwarded and _trusted(peer, tuple(settings.FORWARDED_ALLOW_IPS)):
        # The rightmost entry is the one the trusted proxy added.
        return normalised(forwarded.rsplit(",", 1)[-1].strip() or peer)
    return normalised(peer)


@functools.lru_cache(maxsize=4096)
def normalised(text: str) -> str:
    """One spelling per client: IPv4 (IPv4-mapped IPv6 included) in dotted form, IPv6 as
    the first address of its /64, compressed. Anything that is not an address (a Unix
    socket's empty peer) stays as it is."""
    address = _parse(text)
    if address is None:
        return text
    if isinstance(address, ipaddress.IPv6Address):
        network = ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False)
        return str(network.network_address)
    return str(address)


def _parse(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=256)
def _trusted(peer: str, allowed: tuple[str, ...]) -> bool:
    if "*" in allowed:
        return True
    address = _parse(peer)
    if address is None:
        return False
    return any(address in ipaddress.ip_network(entry, strict=False) for entry in allowed)
