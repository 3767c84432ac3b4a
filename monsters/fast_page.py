"""A thin WSGI layer in front of Django that answers the home page, `GET|HEAD /`.

The home page is the same for every GET (the default name and its monster) but for
its CSRF token and cookie, yet Django's request cycle around it (eleven middlewares,
URL resolving, request and response objects) cost nearly half the page's CPU. The way
`FastImages` answers image hits, `FastPage` answers `GET|HEAD /` before Django does,
with the bytes, status and headers Django would send, in Django's order:

- the page from `home_page.fill`, the function the view calls, for the default name
  (`forms.DEFAULT_NAME`, hashed once per settings by `identity.hash_name`);
- its CSRF token and cookie from Django's own code, per request: CsrfViewMiddleware's
  `process_request` (a valid `csrftoken` cookie keeps its secret, a missing or
  malformed one gets a new secret), `get_token` (the masked token on the page) and
  `process_response` (the cookie with every CSRF_COOKIE_* setting, `Vary: Cookie`);
- every other header from Django's own middlewares, worked out once per settings (and
  scheme, for HSTS): the view's response for a sample request goes through the response
  half of every middleware in MIDDLEWARE, in Django's order (the content policy,
  X-Frame-Options, Vary, Content-Length, SecurityMiddleware's headers), so the header
  rules stay Django's and our middlewares' and are not written down twice. (Django's
  SecurityMiddleware reads its settings when the process starts; the layer's reads
  them whenever they change: the same in production, where they never do.)

What is left of a page's cost is mostly Django's CSRF randomness: `get_token` draws
each of a new secret's 32 characters and the mask's 32 from the system's generator.

Anything that could make Django answer differently goes to Django unchanged: other
methods (POST stays in Django) and paths, a request body, a script prefix, a session
cookie (a member of staff: the session and messages middlewares may add headers), a
host Django does not serve or plain HTTP it redirects (`request_site`, as for images),
and settings the layer does not reproduce: MIDDLEWARE other than the list it was
checked against, CSRF_USE_SESSIONS, PREPEND_WWW, DISALLOWED_USER_AGENTS,
FORCE_SCRIPT_NAME, a WhiteNoise index file, or `/` resolving to another view. A query
string changes nothing, for Django or for the layer.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, NamedTuple

from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest, get_str_from_wsgi
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.http.cookie import parse_cookie
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.urls import Resolver404, resolve
from django.utils.module_loading import import_string

from . import home_page, identity, request_site, views
from .forms import DEFAULT_NAME
from .front_layer import Answer, FrontLayer, Headers
from .per_settings import per_settings

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

PATH = "/"
# The middlewares whose every effect on `GET /` without a session the layer reproduces
# (MIDDLEWARE as shipped): what their request halves do to this request is checked
# here (hosts, HTTPS redirects, bodies, cookies), their response halves are run. Under
# any other list, Django answers.
REPRODUCED_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "monsters.middleware.RequestShapeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "monsters.content_policy.ContentSecurityPolicyMiddleware",
    "axes.middleware.AxesMiddleware",
)
# What tells Django that the application is mounted below the root. The page's links
# follow the script prefix, which Django sets for each request and the layer does not.
_SCRIPT_KEYS = ("SCRIPT_NAME", "SCRIPT_URL", "REDIRECT_URL")


class FastPage(FrontLayer):
    """Wraps a WSGI application; answers the home page itself, passes the rest on."""

    def answer(self, environ: WSGIEnvironment) -> Answer | None:
        return _answer(environ)


class _Page(NamedTuple):
    """What the page's answer takes from the settings (and the scheme)."""

    status: str
    headers: Headers  # every header Django sends but the cookie, in its order
    length_at: int  # where Content-Length is in `headers`
    charset: str
    name_hash: str
    csrf: CsrfViewMiddleware
    session_cookie: str


def _answer(environ: WSGIEnvironment) -> Answer | None:
    if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return None
    if (environ.get("CONTENT_LENGTH") or "0") != "0" or "HTTP_TRANSFER_ENCODING" in environ:
        return None  # a body: what RequestShapeMiddleware checks, and the view ignores
    if any(map(environ.get, _SCRIPT_KEYS)):
        return None
    secure = request_site.served_securely(environ)
    if secure is request_site.NOT_OURS:
        return None  # Django answers a host it does not serve (400), or redirects to HTTPS
    page = _page(secure)
    if page is None:
        return None  # settings the layer does not reproduce
    # What request.COOKIES holds, parsed as Django parses it.
    cookies = parse_cookie(get_str_from_wsgi(environ, "HTTP_COOKIE", ""))
    if page.session_cookie in cookies:
        return None
    request = _CsrfRequest(cookies)
    page.csrf.process_request(request)  # keeps a valid cookie's secret, else a new one
    text = home_page.fill(
        name=DEFAULT_NAME, name_hash=page.name_hash, csrf_token=get_token(request)
    )
    body = text.encode(page.charset)
    headers = [*page.headers, *_cookie_headers(page.csrf, request)]
    headers[page.length_at] = ("Content-Length", str(len(body)))
    return page.status, headers, body


class _CsrfRequest(HttpRequest):
    """All of a request that CsrfViewMiddleware (cookies in use, not the session) and
    `get_token` read: its cookies and the META they record the secret in. Without the
    query and form dictionaries an HttpRequest builds, which nothing here reads."""

    def __init__(self, cookies: dict[str, str]) -> None:  # no super().__init__: see above
        self.COOKIES = cookies
        self.META = {}


def _cookie_headers(csrf: CsrfViewMiddleware, request: HttpRequest) -> Headers:
    """The Set-Cookie headers CsrfViewMiddleware gives this request's response, as
    Django's WSGIHandler writes them."""
    response = HttpResponseBase()
    csrf.process_response(request, response)
    return [("Set-Cookie", cookie.output(header="")) for cookie in response.cookies.values()]


@per_settings
def _page(secure: bool) -> _Page | None:
    """The page's answer but for its token and cookie, for a request over HTTPS or not;
    None when the settings ask for something the layer does not reproduce."""
    if _settings_problem():
        return None
    name_hash = identity.hash_name(DEFAULT_NAME)
    request = WSGIRequest(
        {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": PATH,
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "443" if secure else "80",
            "wsgi.url_scheme": "https" if secure else "http",
            "wsgi.input": io.BytesIO(),
        }
    )
    # What the view returns...
    text = home_page.fill(name=DEFAULT_NAME, name_hash=name_hash, csrf_token=get_token(request))
    response: HttpResponseBase = HttpResponse(text)
    # ...through the response half of every middleware, innermost first, as Django
    # runs them. (The session and messages middlewares find no session and no messages
    # on this request, as on every request the layer answers.)
    for path in reversed(settings.MIDDLEWARE):
        middleware = import_string(path)
        if hasattr(middleware, "process_response"):
            response = middleware(_never_called).process_response(request, response)
    headers = list(response.items())
    return _Page(
        status=f"{response.status_code} {response.reason_phrase}",
        headers=headers,
        length_at=[name for name, _ in headers].index("Content-Length"),
        charset=response.charset,
        name_hash=name_hash,
        csrf=CsrfViewMiddleware(_never_called),
        session_cookie=settings.SESSION_COOKIE_NAME,
    )


@per_settings
def _settings_problem() -> str:
    """Why Django must answer `GET /` under these settings, or "" when the layer can."""
    if tuple(settings.MIDDLEWARE) != REPRODUCED_MIDDLEWARE:
        return "MIDDLEWARE is not the list the layer reproduces"
    if settings.CSRF_USE_SESSIONS:
        return "the CSRF secret is kept in the session"
    if settings.PREPEND_WWW:
        return "CommonMiddleware may redirect to www."
    if settings.DISALLOWED_USER_AGENTS:
        return "CommonMiddleware may refuse a user agent"
    if settings.FORCE_SCRIPT_NAME is not None:
        return "the site is mounted below the root"
    if getattr(settings, "WHITENOISE_INDEX_FILE", None):
        return "WhiteNoise may serve an index file at /"
    try:
        view = resolve(PATH, urlconf=settings.ROOT_URLCONF).func
    except Resolver404:
        view = None
    if view is not views.home:
        return "/ is not the home view"
    return ""


def _never_called(request: HttpRequest) -> Any:
    raise AssertionError("only the middleware's response half is used")
