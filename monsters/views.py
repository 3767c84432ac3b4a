from __future__ import annotations

from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils.http import parse_etags
from django.views.decorators.http import require_http_methods, require_safe

from . import identity, service, sizes, sources
from .forms import DEFAULT_NAME, NameForm

PAGE_SIZE = 80
LONG_CACHE = "public, max-age=31536000, immutable"
FAVICON = "monsters/brand-40.png"


@require_http_methods(["GET", "HEAD", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    form = NameForm(request.POST if request.method == "POST" else {"name": DEFAULT_NAME})
    if not form.is_valid():
        return render(request, "monsters/home.html", {"form": form}, status=HTTPStatus.BAD_REQUEST)
    context = {
        "form": form,
        "identifier": identity.hash_name(form.cleaned_data["name"]),
        "size": PAGE_SIZE,
        "size_2x": PAGE_SIZE * 2,
    }
    return render(request, "monsters/home.html", context)


@require_safe
def monster(request: HttpRequest, identifier: str) -> HttpResponse:
    try:
        size = sizes.parse_size(request.GET.get("size"))
    except ValueError as exc:
        return _plain_text(f"{exc}\n", HTTPStatus.BAD_REQUEST)

    # The ETag is known without the cache, so a revalidation costs nothing.
    etag = service.identicon_etag(identifier=identifier, size=size)
    if _client_has(request, etag):
        response = HttpResponseNotModified()
    else:
        try:
            identicon = service.get_identicon(identifier=identifier, size=size)
        except sources.SourceError as exc:
            return _source_failure(exc)
        response = HttpResponse(identicon.png, content_type="image/png")
        response["Content-Length"] = str(len(identicon.png))
        response["X-Cache"] = "HIT" if identicon.cache_hit else "MISS"
    response["ETag"] = etag
    response["Cache-Control"] = LONG_CACHE
    return response


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on pages that name no icon (the admin's)."""
    response = redirect(static(FAVICON))
    response["Cache-Control"] = "public, max-age=86400"
    return response


def _client_has(request: HttpRequest, etag: str) -> bool:
    wanted = parse_etags(request.headers.get("If-None-Match", ""))
    return "*" in wanted or any(tag.removeprefix("W/") == etag for tag in wanted)


def _source_failure(exc: sources.SourceError) -> HttpResponse:
    """The one place renderer failures become status codes."""
    reason = "timed out" if exc.status == HTTPStatus.GATEWAY_TIMEOUT else "is unavailable"
    response = _plain_text(
        f"The monster renderer {reason}; please try again shortly.\n", exc.status
    )
    response["Cache-Control"] = "no-store"
    response["Retry-After"] = "5"
    return response


def _plain_text(text: str, status: int) -> HttpResponse:
    return HttpResponse(text, content_type="text/plain; charset=utf-8", status=status)
