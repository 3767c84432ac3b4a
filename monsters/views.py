from __future__ import annotations

import math
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import parse_qsl

from csp.decorators import csp_exempt
from django.conf import settings
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotModified,
    HttpResponseRedirect,
)
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.http import require_http_methods, require_safe

from . import (
    cache,
    clients,
    fast_images,
    formats,
    home_page,
    identity,
    image_headers,
    links,
    rate_limit,
    service,
    sizes,
    sources,
)
from .forms import DEFAULT_NAME, NameForm
from .metrics import RATE_LIMITED
from .models import Generation

PAGE_SIZE = home_page.PAGE_SIZE
FAVICON = "monsters/brand-40.png"
RETRY_AFTER_SECONDS = 5
# The permalink page: what it offers to download, the size of the embed snippets, and
# the picture a shared link previews. The monster itself is the home page's 80 px image
# (and its 2x), scaled up crisply by CSS: one image in the browser's cache for both.
DOWNLOADS = (  # (format, its name, size, what the button says about the size)
    (formats.PNG, "PNG", 80, "80 px"),
    (formats.PNG, "PNG", 256, "256 px"),
    (formats.PNG, "PNG", 512, "512 px"),
    (formats.SVG, "SVG", 512, "any size"),
    (formats.WEBP, "WebP", 512, "512 px"),
)
SNIPPET_SIZE = 80
PREVIEW_SIZE = 512
MONSTER_TITLE = "A monster from Identidock"


@require_http_methods(["GET", "HEAD", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        decision = rate_limit.take(_names_limit(), clients.client_address(request))
        if not decision.allowed:
            return _too_many(decision, "Too many names at once; please wait a moment.")
        form = NameForm(request.POST, utf8=_is_utf8_form(request.body))
    else:
        form = NameForm({"name": DEFAULT_NAME})
    if not form.is_valid():
        return render(request, home_page.TEMPLATE, {"form": form}, status=HTTPStatus.BAD_REQUEST)
    name = form.cleaned_data["name"]
    page = home_page.fill(
        name=name, name_hash=identity.hash_name(name), csrf_token=get_token(request)
    )
    return HttpResponse(page)


@require_safe
def permalink(request: HttpRequest, name_hash: str) -> HttpResponse:
    """A monster's own page, to share: large, to download in every format, to embed.

    Its address and its content name the hash only, never the name it came from.
    """
    svg_missing = _format_problem(formats.SVG)
    context = {
        "title": MONSTER_TITLE,
        "monster_url": links.monster_url(name_hash, PAGE_SIZE),
        "monster_url_2x": links.monster_url(name_hash, PAGE_SIZE * 2),
        "size": PAGE_SIZE,
        "downloads": [
            {
                "format": name,
                "size": size_label,
                "url": links.monster_url(name_hash, size, extension=fmt),
                "filename": f"identidock-{name_hash[:12]}-{size}.{fmt}",
            }
            for fmt, name, size, size_label in DOWNLOADS
            if not (fmt == formats.SVG and svg_missing)
        ],
        "svg_missing": svg_missing,
        **_embed_snippets(request, name_hash),
        "page_url": request.build_absolute_uri(links.permalink_url(name_hash)),
        "preview_url": request.build_absolute_uri(
            links.monster_url(name_hash, PREVIEW_SIZE, extension=formats.PNG)
        ),
        "preview_size": PREVIEW_SIZE,
    }
    return render(request, "monsters/permalink.html", context)


def _format_problem(fmt: str) -> str:
    """Why the configured renderer cannot give `fmt`, or "" when it can."""
    try:
        service.require_format(fmt)
    except sources.FormatUnavailable as exc:
        return str(exc)
    return ""


def _embed_snippets(request: HttpRequest, name_hash: str) -> dict[str, str]:
    """HTML and Markdown that show the monster on another site. They name the URL
    without `v`: it always shows the current art (revalidated by its ETag), and never
    costs a redirect after the art changes, as a URL of an old revision would."""
    path = links.monster_path(name_hash, extension=formats.PNG)
    url = f"{request.build_absolute_uri(path)}?size={SNIPPET_SIZE}"
    return {
        "html_snippet": (
            f'<img src="{url}" width="{SNIPPET_SIZE}" height="{SNIPPET_SIZE}" '
            f'alt="{MONSTER_TITLE}">'
        ),
        "markdown_snippet": f"![{MONSTER_TITLE}]({url})",
    }


# Images set their own headers (image_headers: an SVG gets a policy of its own, PNG and
# WebP run nothing); the fast layer answers hits with exactly those headers. (django-csp
# types its decorator for views that take the request alone.)
@csp_exempt()  # type: ignore[arg-type]
@require_safe
def monster(request: HttpRequest, name_hash: str, extension: str | None = None) -> HttpResponseBase:
    """The public image route, as the original app had it (plus `size` and `v`), and
    with an extension for each format; without one it is PNG."""

    def current_url(name_hash: str, size: int) -> str:
        return links.monster_url(name_hash, size, extension=extension)

    return serve_monster(
        request,
        name_hash=name_hash,
        fmt=extension or formats.DEFAULT,
        origin=Generation.Origin.WEB,
        url_for=current_url,
        shared=True,
        limited=True,
    )


def serve_monster(
    request: HttpRequest,
    *,
    name_hash: str,
    fmt: str = formats.DEFAULT,
    origin: str,
    url_for: Callable[[str, int], str],
    shared: bool,
    limited: bool,
) -> HttpResponseBase:
    """One image answer: 400 for a bad size, 406 for a format the renderer cannot give,
    302 from an old revision to `url_for`'s current one, 304 for a matching ETag, the
    image when cached, else a render: 429 when the client is over its limit
    (`limited`), the image, or 503/504 when the renderer fails.
    """
    try:
        size = sizes.parse_size(request.GET.get("size"))
    except ValueError as exc:
        return _plain_text(f"{exc}\n", HTTPStatus.BAD_REQUEST)
    try:
        service.require_format(fmt)  # before a redirect, a 304 or a rate-limit token
    except sources.FormatUnavailable as exc:
        return _source_failure(exc)

    ref = service.locate(name_hash=name_hash, size=size, fmt=fmt)
    wanted_revision = request.GET.get("v")
    if wanted_revision is not None and wanted_revision != ref.revision:
        moved = HttpResponseRedirect(url_for(name_hash, size))
        moved["Cache-Control"] = image_headers.REDIRECT_CACHE_CONTROL
        return moved

    answer = {
        "versioned": wanted_revision is not None,
        "shared": shared,
        "secure": request.is_secure(),
    }
    response: HttpResponse
    if image_headers.client_has(request.headers.get("If-None-Match", ""), ref.etag):
        response = HttpResponseNotModified()
        headers = image_headers.image_headers(ref, image=None, cache_status="", **answer)
    else:
        try:
            identicon = _identicon(request, ref, origin=origin, limited=limited)
        except sources.SourceError as exc:
            return _source_failure(exc)
        except _OverLimit as over:
            return _too_many(over.decision, "Too many new monsters at once; please wait a moment.")
        response = HttpResponse(identicon.image)
        headers = image_headers.image_headers(
            ref, image=identicon.image, cache_status=identicon.cache_status, **answer
        )
    for header, value in headers:
        response[header] = value
    return response


class _OverLimit(Exception):
    def __init__(self, decision: rate_limit.Decision) -> None:
        self.decision = decision


def _identicon(
    request: HttpRequest, ref: service.MonsterRef, *, origin: str, limited: bool
) -> service.Identicon:
    """The cached image, or a render if the client may have one (`_OverLimit` if not)."""
    # The fast layer in front has just missed this key: do not ask the cache twice.
    if request.META.get(fast_images.MISSED_KEY) != ref.key:
        try:
            image = service.cached_image(ref)
        except cache.CacheUnavailable:
            image = None  # rendered below, without the cache
        if image is not None:
            return service.Identicon(image=image, ref=ref, cache_status=service.HIT)
    if limited:
        decision = rate_limit.take(_misses_limit(), clients.client_address(request))
        if not decision.allowed:
            raise _OverLimit(decision)
    return service.get_identicon(ref, origin=origin, cache_checked=True)


def _misses_limit() -> rate_limit.Limit:
    return rate_limit.Limit(
        "misses", settings.RATE_LIMIT_MISSES_PER_MINUTE, settings.RATE_LIMIT_MISS_BURST
    )


def _names_limit() -> rate_limit.Limit:
    return rate_limit.Limit(
        "names", settings.RATE_LIMIT_NAMES_PER_MINUTE, settings.RATE_LIMIT_NAME_BURST
    )


def _too_many(decision: rate_limit.Decision, reason: str) -> HttpResponse:
    RATE_LIMITED.labels(decision.limit.scope).inc()
    response = _plain_text(f"{reason}\n", HTTPStatus.TOO_MANY_REQUESTS)
    response["Cache-Control"] = image_headers.FAILURE_CACHE_CONTROL
    for header, value in decision.headers():
        response[header] = value
    return response


def _is_utf8_form(body: bytes) -> bool:
    """Whether a form body decodes as UTF-8, percent-escapes included (Django would
    turn invalid bytes into U+FFFD, so that different inputs shared one monster)."""
    try:
        parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return False
    return True


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on pages that name no icon (the admin's)."""
    response = redirect(static(FAVICON))
    response["Cache-Control"] = "public, max-age=86400"
    return response


def _source_failure(exc: sources.SourceError) -> HttpResponse:
    """The one place renderer failures become status codes."""
    if isinstance(exc, sources.FormatUnavailable):
        # Not a failure to retry: this renderer never gives that format. The answer
        # follows the configuration, which a deploy can change: kept by nobody.
        response = _plain_text(f"{exc}\n", HTTPStatus.NOT_ACCEPTABLE)
        response["Cache-Control"] = image_headers.FAILURE_CACHE_CONTROL
        return response
    if isinstance(exc, sources.SourceTimeout):
        status, reason = HTTPStatus.GATEWAY_TIMEOUT, "timed out"
    else:
        status, reason = HTTPStatus.SERVICE_UNAVAILABLE, "is unavailable"
    response = _plain_text(f"The monster renderer {reason}; please try again shortly.\n", status)
    response["Cache-Control"] = image_headers.FAILURE_CACHE_CONTROL
    retry_after = (
        math.ceil(exc.retry_after)
        if isinstance(exc, sources.RendererSkipped)
        else RETRY_AFTER_SECONDS
    )
    response["Retry-After"] = str(max(1, retry_after))
    return response


def _plain_text(text: str, status: int) -> HttpResponse:
    return HttpResponse(text, content_type="text/plain; charset=utf-8", status=status)
