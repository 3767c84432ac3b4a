"""Whether Django serves a request's host here, and whether it came over HTTPS: the one
judgement the layer in front of Django (`front.FastImages`) makes before
it answers anything itself.

Django's own request decides (`get_host` against ALLOWED_HOSTS, `is_secure` by
SECURE_PROXY_SSL_HEADER), once for each combination of the environ values it reads, so
a layer answers a host and a scheme exactly when Django would serve them, and hands
every other request to Django: its 400 for a host it does not serve, its redirect
for plain HTTP under SECURE_SSL_REDIRECT.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest

from monsters.per_settings import per_settings

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

# What decides whether Django serves a request's host, and whether it came over HTTPS.
_SITE_KEYS = (
    "HTTP_HOST",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "SERVER_NAME",
    "SERVER_PORT",
    "wsgi.url_scheme",
)
NOT_OURS = None  # a request a fast layer leaves to Django


def served_securely(environ: WSGIEnvironment) -> bool | None:
    """Whether Django would serve this request here over HTTPS (True) or plain HTTP
    (False), or NOT_OURS when it would not serve it: a host outside ALLOWED_HOSTS, or
    plain HTTP that SECURE_SSL_REDIRECT sends to HTTPS."""
    return _site(tuple(map(environ.get, _site_keys())))


@per_settings
def _site_keys() -> tuple[str, ...]:
    """The environ keys `_site` depends on: `_SITE_KEYS` and the header a proxy marks
    HTTPS with, if the settings trust one."""
    proxy_ssl_header = settings.SECURE_PROXY_SSL_HEADER
    return _SITE_KEYS + ((proxy_ssl_header[0],) if proxy_ssl_header else ())


@per_settings(maxsize=256)  # Host headers are the client's to choose: bounded
def _site(values: tuple[str | None, ...]) -> bool | None:
    """`served_securely` for these `_site_keys()` values. Django's own request decides,
    once for each combination (a handful per deployment)."""
    environ = {
        key: value for key, value in zip(_site_keys(), values, strict=True) if value is not None
    }
    request = WSGIRequest(
        {**environ, "REQUEST_METHOD": "GET", "PATH_INFO": "/", "wsgi.input": io.BytesIO()}
    )
    try:
        request.get_host()
    except DisallowedHost:
        return NOT_OURS
    secure = request.is_secure()
    if settings.SECURE_SSL_REDIRECT and not secure:
        return NOT_OURS  # SecurityMiddleware redirects it
    return secure
