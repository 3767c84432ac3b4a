"""Absolute URLs for what a page shares (a monster page's og:url, og:image, canonical
link and embed snippets), built from the site's configured address, not the request's.

A shared cache keeps a page for everyone, so an absolute URL in it must not come from
whatever a client put in its `Host` header. Django refuses a host outside ALLOWED_HOSTS,
but not the port that follows it: `Host: identidock.example.com:666` passes. So:

- PUBLIC_BASE_URL set (production): every absolute URL starts with it;
- unset: the request's scheme (which SECURE_PROXY_SSL_HEADER decides) and its checked
  host name, without the client's port; `check --deploy` warns (identidock.W004).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.http.request import split_domain_port


def base_url(request: HttpRequest) -> str:
    """Scheme and host (and a port only when PUBLIC_BASE_URL names one), no trailing /."""
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL
    # get_host() checks the host against ALLOWED_HOSTS; an IPv6 literal keeps its [].
    host, _port = split_domain_port(request.get_host())
    return f"{request.scheme}://{host}"


def absolute(request: HttpRequest, path: str) -> str:
    """`path` (from the root, query included) as an absolute URL of the site."""
    return base_url(request) + path
