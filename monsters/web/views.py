"""The pages: the form with its monster, a monster's own page, and the favicon.

The images themselves are served by `image_views`."""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import parse_qsl

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.http import require_http_methods, require_safe

from monsters.guards import clients, rate_limit, sources
from monsters.images import formats, headers, identity, links, service, styles
from monsters.metrics import RATE_LIMITED
from monsters.web import home_page, public_url
from monsters.web.forms import DEFAULT_NAME, NameForm
from monsters.web.middleware import plain_text

PAGE_SIZE = home_page.PAGE_SIZE
FAVICON = "monsters/brand-40.png"
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
# The page is the same for everyone (its absolute URLs come from PUBLIC_BASE_URL or the
# checked host name, never a client's port), so shared caches may keep it. Five minutes:
# after an upgrade of the art a kept page names the old revision, whose image URLs
# redirect to the new one, so a stale page costs a redirect, never a wrong monster.
PERMALINK_CACHE_CONTROL = "public, max-age=300"


@require_http_methods(["GET", "HEAD", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        refused = _names_refused(request)
        if refused is not None:
            return refused
        form = NameForm(request.POST, utf8=_is_utf8_form(request.body))
    else:
        form = NameForm({"name": DEFAULT_NAME})
    if not form.is_valid():
        return render(request, home_page.TEMPLATE, {"form": form}, status=HTTPStatus.BAD_REQUEST)
    name = form.cleaned_data["name"]
    shown = NameForm({"name": name})  # the box shows the name as hashed: stripped
    shown.is_valid()
    return render(request, home_page.TEMPLATE, home_page.context(shown, identity.hash_name(name)))


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
        "other_styles": _other_styles(name_hash),
        **_embed_snippets(request, name_hash),
        "page_url": public_url.absolute(request, links.permalink_url(name_hash)),
        "preview_url": public_url.absolute(
            request, links.monster_url(name_hash, PREVIEW_SIZE, extension=formats.PNG)
        ),
        "preview_size": PREVIEW_SIZE,
    }
    response = render(request, "monsters/permalink.html", context)
    response["Cache-Control"] = PERMALINK_CACHE_CONTROL
    return response


def _other_styles(name_hash: str) -> list[dict[str, str]]:
    """The same id drawn in every other style the renderer draws, to see and download
    (the styles that are the same for everyone have nothing of this id to show)."""
    return [
        {
            "style": style,
            "url": links.monster_url(name_hash, PAGE_SIZE, style=style),
            "url_2x": links.monster_url(name_hash, PAGE_SIZE * 2, style=style),
            "png_url": links.monster_url(name_hash, 512, extension=formats.PNG, style=style),
            "svg_url": links.monster_url(name_hash, 512, extension=formats.SVG, style=style),
            "stem": f"identidock-{name_hash[:12]}-{style}",
        }
        for style in styles.registered()
        if style != styles.MONSTER and style not in styles.SAME_FOR_EVERYONE
    ]


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
    url = public_url.absolute(request, f"{path}?size={SNIPPET_SIZE}")
    return {
        "html_snippet": (
            f'<img src="{url}" width="{SNIPPET_SIZE}" height="{SNIPPET_SIZE}" '
            f'alt="{MONSTER_TITLE}">'
        ),
        "markdown_snippet": f"![{MONSTER_TITLE}]({url})",
    }


# Every client's names together draw on one bucket of this key.
EVERY_CLIENT = "all"


def _names_refused(request: HttpRequest) -> HttpResponse | None:
    """429 when this client, or every client together, has submitted too many names.

    The form answers with a name's monster, so it confirms a guessed name for a hash (a
    shared /m/ link, an audit row). The per-address bucket slows one guesser; the global
    one bounds guessers spread over many addresses, at the price that they can keep the
    form from everyone meanwhile (docs/security.md weighs it). The client's bucket comes
    first, so a client over its own limit spends nothing of everyone's.
    """
    for limit, client in (
        (_names_limit(), clients.client_address(request)),
        (_names_global_limit(), EVERY_CLIENT),
    ):
        decision = rate_limit.take(limit, client)
        if not decision.allowed:
            return _too_many_names(request, decision)
    return None


def _too_many_names(request: HttpRequest, decision: rate_limit.Decision) -> HttpResponse:
    RATE_LIMITED.labels(decision.limit.scope).inc()
    response = plain_text(
        "Too many names at once; please wait a moment.", HTTPStatus.TOO_MANY_REQUESTS, request
    )
    response["Cache-Control"] = headers.FAILURE_CACHE_CONTROL
    for header, value in decision.headers():
        response[header] = value
    return response


def _names_limit() -> rate_limit.Limit:
    return rate_limit.Limit(
        "names", settings.RATE_LIMIT_NAMES_PER_MINUTE, settings.RATE_LIMIT_NAME_BURST
    )


def _names_global_limit() -> rate_limit.Limit:
    return rate_limit.Limit(
        "names-global",
        settings.RATE_LIMIT_NAMES_GLOBAL_PER_MINUTE,
        settings.RATE_LIMIT_NAMES_GLOBAL_BURST,
    )


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
