"""The fast image layer in front of Django: the same answers, byte for byte and header
for header, for hits, 304s, redirects of an old `v` and every bad input, in every
format; hits and 304s answered without Django, everything else handed on. The hit and
304 comparisons run with the suite's settings and with the production defaults. Misses:
tests/test_front_layer_misses.py; the in-process cache tier: tests/test_process_tier.py."""

from __future__ import annotations

import pytest

from identidock.wsgi import django_application
from monsters.guards import cache
from monsters.images import identity, keys
from monsters.web.front import FastImages
from tests import wsgi_calls
from tests.wsgi_calls import CountingDjango

pytestmark = pytest.mark.django_db(transaction=True)

MOBY = identity.hash_name("Moby Dock")
PATH = f"/monster/{MOBY}"


def call(app, path: str = PATH, query: str = "", method: str = "GET", **headers: str):
    """(status, headers, body) of one WSGI request to `app`, for an image by default."""
    return wsgi_calls.call(app, path, query, method, b"", **headers)


@pytest.fixture
def fast(renderer_server):
    django = CountingDjango()
    return FastImages(django), django


def current_query(size: int = 80) -> str:
    return f"size={size}&v={keys.current_revision()}"


@pytest.mark.usefixtures("suite_and_production_defaults")
def test_a_hit_is_answered_without_django_exactly_as_django_answers_it(fast):
    layer, django = fast
    call(django_application, query=current_query())  # the miss: cached now
    calls = django.calls
    assert call(layer, query=current_query()) == call(django_application, query=current_query())
    assert django.calls == calls
    status, headers, _ = call(layer, query=current_query())
    assert status == "200 OK"
    assert ("X-Cache", "HIT") in headers


@pytest.mark.usefixtures("suite_and_production_defaults")
@pytest.mark.parametrize(
    "query",
    [
        "",
        "size=",
        "size=40",
        "size=40&size=512",
        "size=512&v=CURRENT",
        # Not our links' plain form: read by QueryDict, exactly as the view reads them.
        "v=CURRENT&size=40",
        "size=40&v=CURRENT&size=512",
        "size=%34%30&v=CURRENT",
        "size=40&v=CURRENT&utm_source=mail",
        "size=40&v=CURRENT&v=CURRENT",
    ],
)
def test_hits_and_304s_match_django_header_for_header(fast, query):
    layer, django = fast
    query = query.replace("CURRENT", keys.current_revision())
    first = call(django_application, query=query)
    etag = dict(first[1])["ETag"]
    for request in ({}, {"If_None_Match": etag}, {"If_None_Match": f'W/{etag}, "other"'}):
        calls = django.calls
        assert call(layer, query=query, **request) == call(
            django_application, query=query, **request
        )
        assert django.calls == calls  # answered by the layer
    assert call(layer, query=query, method="HEAD") == call(
        django_application, query=query, method="HEAD"
    )


def test_a_304_needs_no_cache_read(fast, monkeypatch):
    layer, _ = fast
    etag = keys.locate(name_hash=MOBY, size=80).etag
    monkeypatch.setattr(cache, "get", lambda key: pytest.fail("the cache was read"))
    status, headers, body = call(layer, query=current_query(), If_None_Match=etag)
    assert (status, body) == ("304 Not Modified", b"")
    assert dict(headers)["Cache-Control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("extension", ["", ".png", ".svg", ".webp"])
@pytest.mark.parametrize(
    "query",
    [
        "v=an-old-revision",  # redirect to the current revision
        "size=80&v=",  # an empty revision is an old one
        "size=80&v=CURRENT&v=old",  # the last one counts, as in Django
        "size=80%00&v=CURRENT",
        "size=8",
        "size=80abc",
        "size=%EF%BC%98%EF%BC%90",  # fullwidth digits
    ],
)
def test_redirects_and_refusals_are_the_same_from_the_layer_as_from_django(
    fast, extension, query, method
):
    layer, django = fast
    path, query = PATH + extension, query.replace("CURRENT", keys.current_revision())
    calls = django.calls
    from_layer = call(layer, path, query, method)
    assert from_layer == call(django_application, path, query, method)
    assert django.calls == calls  # the one image function answered in the layer
    assert from_layer[0].startswith(("302", "400"))


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("extension", ["", ".png", ".svg", ".webp"])
@pytest.mark.parametrize("cached", [True, False], ids=["hit", "miss"])
def test_a_body_is_refused_alike_hit_or_miss_from_either_layer(fast, extension, cached, method):
    """No answer to an image request with a body tells a cached image from one that is
    not (it would be a free oracle: nothing drawn, audited or rate limited)."""
    layer, django = fast
    path, query = PATH + extension, current_query()
    if cached:
        assert call(django_application, path, query)[0] == "200 OK"
    body = b"size=80"
    form = {"CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": "7"}
    from_layer = wsgi_calls.call(layer, path, query, method, body, **form)
    from_django = wsgi_calls.call(django_application, path, query, method, body, **form)
    assert from_layer == from_django
    assert from_layer[0] == "400 Bad Request"
    assert ("X-Cache", "HIT") not in from_layer[1]
    assert from_layer[2] == (b"" if method == "HEAD" else b"An image request takes no body.\n")


@pytest.mark.parametrize("cached", [True, False], ids=["hit", "miss"])
def test_a_body_of_any_type_is_refused_alike(fast, cached):
    layer, _ = fast
    if cached:
        call(django_application, query=current_query())
    extra = {"CONTENT_TYPE": "application/json", "CONTENT_LENGTH": "2"}
    status, _, body = wsgi_calls.call(
        django_application, PATH, current_query(), "GET", b"{}", **extra
    )
    assert (status, body) == ("400 Bad Request", b"An image request takes no body.\n")
    assert wsgi_calls.call(layer, PATH, current_query(), "GET", b"{}", **extra)[0] == status


@pytest.mark.parametrize(
    ("path", "method"),
    [
        (PATH.upper(), "GET"),
        (PATH[:-1], "GET"),
        (PATH + "/", "GET"),
        ("/monster/..%2F" + MOBY[5:], "GET"),
        (PATH, "POST"),
        (PATH, "PUT"),
        ("/healthz", "GET"),
    ],
)
def test_everything_else_is_handed_to_django_unchanged(fast, path, method):
    layer, django = fast
    call(django_application)  # Moby cached: only the request decides who answers
    calls = django.calls
    assert call(layer, path, "", method) == call(django_application, path, "", method)
    assert django.calls == calls + 1


@pytest.mark.usefixtures("suite_and_production_defaults")
@pytest.mark.parametrize("extension", [".png", ".svg", ".webp"])
@pytest.mark.parametrize("query", ["", "size=256", "size=40&v=CURRENT"])
def test_every_formats_hits_and_304s_match_django_header_for_header(fast, extension, query):
    layer, django = fast
    path, query = PATH + extension, query.replace("CURRENT", keys.current_revision())
    first = call(django_application, path, query)
    assert first[0] == "200 OK"
    etag = dict(first[1])["ETag"]
    for request in ({}, {"If_None_Match": etag}):
        calls = django.calls
        assert call(layer, path, query, **request) == call(
            django_application, path, query, **request
        )
        assert django.calls == calls  # answered by the layer
    assert call(layer, path, query, method="HEAD") == call(
        django_application, path, query, method="HEAD"
    )


def test_a_format_the_renderer_cannot_give_is_refused_alike_by_both_layers(fast, settings):
    layer, django = fast
    settings.DNMONSTER_REVISION = "amouat-1.0"
    etag = keys.locate(name_hash=MOBY, size=80, fmt="svg").etag
    for request in ({}, {"If_None_Match": etag}):
        calls = django.calls
        answer = call(layer, PATH + ".svg", **request)
        assert answer[0] == "406 Not Acceptable"
        assert answer == call(django_application, PATH + ".svg", **request)
        assert django.calls == calls


@pytest.mark.parametrize(
    "path", [PATH + ".gif", PATH + ".PNG", PATH + ".svg.png", PATH + ".", PATH + ".svgz"]
)
def test_other_extensions_are_handed_to_django_unchanged(fast, path):
    layer, django = fast
    call(django_application, PATH + ".svg")  # cached: only the path decides who answers
    calls = django.calls
    answer = call(layer, path)
    assert answer == call(django_application, path)
    assert answer[0] == "404 Not Found"
    assert django.calls == calls + 1


@pytest.mark.usefixtures("suite_and_production_defaults")
def test_a_head_hit_is_answered_like_django_with_no_body_but_the_images_length(fast):
    layer, django = fast
    image = call(django_application, query=current_query())[2]
    calls = django.calls
    head = call(layer, query=current_query(), method="HEAD")
    assert head == call(django_application, query=current_query(), method="HEAD")
    assert django.calls == calls
    assert head[2] == b""
    assert dict(head[1])["Content-Length"] == str(len(image))


def test_a_host_django_does_not_serve_is_left_to_django(fast):
    layer, django = fast
    call(django_application, query=current_query())
    status, _, _ = call(layer, query=current_query(), Host="evil.example")
    assert status.startswith("400")
    assert django.calls == 1


def test_a_host_is_judged_by_the_current_settings_not_by_what_was_remembered(fast, settings):
    layer, django = fast
    call(django_application, query=current_query())
    assert call(layer, query=current_query())[0] == "200 OK"
    calls = django.calls
    settings.ALLOWED_HOSTS = ["identidock.example"]
    status, _, _ = call(layer, query=current_query())
    assert status.startswith("400")
    assert django.calls == calls + 1


@pytest.mark.parametrize("forwarded_proto", [None, "https", "http"])
def test_https_behind_a_trusted_proxy_gets_djangos_security_headers(
    fast, settings, forwarded_proto
):
    layer, django = fast
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    headers = {"X_Forwarded_Proto": forwarded_proto} if forwarded_proto else {}
    call(django_application, query=current_query())
    calls = django.calls
    answer = call(layer, query=current_query(), **headers)
    assert answer == call(django_application, query=current_query(), **headers)
    assert django.calls == calls
    hsts = dict(answer[1]).get("Strict-Transport-Security")
    assert hsts == ("max-age=3600" if forwarded_proto == "https" else None)


def test_plain_http_is_left_to_django_when_it_redirects_to_https(fast, settings):
    layer, django = fast
    call(django_application, query=current_query())
    settings.SECURE_SSL_REDIRECT = True  # (Django's middleware read it at start-up)
    calls = django.calls
    assert call(layer, query=current_query()) == call(django_application, query=current_query())
    assert django.calls == calls + 1  # SecurityMiddleware's to redirect, not the layer's


# --- /avatar/: the same single function, hits and 304s in front of Django -----------------

AVATAR = "/avatar/0bc83cb571cd1c50ba6f3e8a78ef1346"


@pytest.mark.usefixtures("suite_and_production_defaults")
@pytest.mark.parametrize("suffix", ["", ".jpg", ".png/", ".webp", ".svg", "/"])
@pytest.mark.parametrize(
    "query",
    ["", "s=40", "s=40&d=identicon", "size=48&r=pg&d=mm", "s=2048&f=y", "d=retro&reset_cache=1"],
)
def test_avatar_hits_and_304s_match_django_header_for_header(fast, suffix, query):
    layer, django = fast
    path = AVATAR + suffix
    first = call(django_application, path, query)  # the miss: cached now
    assert first[0] == "200 OK"
    etag = dict(first[1])["ETag"]
    for request in ({}, {"If_None_Match": etag}, {"If_None_Match": f'W/{etag}, "other"'}):
        calls = django.calls
        for method in ("GET", "HEAD"):
            assert call(layer, path, query, method, **request) == call(
                django_application, path, query, method, **request
            )
        assert django.calls == calls  # answered in front of Django
    status, headers, _ = call(layer, path, query)
    assert ("X-Cache", "HIT") in headers
    assert ("Access-Control-Allow-Origin", "*") in headers


@pytest.mark.parametrize("query", ["d=404", "s=0", "s=2049", "d=https://allowed.example/x.png"])
def test_avatar_404s_refusals_and_redirects_are_the_same_from_either_layer(fast, settings, query):
    settings.AVATAR_DEFAULT_URL_HOSTS = ["allowed.example"]
    layer, django = fast
    calls = django.calls
    from_layer = call(layer, AVATAR, query)
    assert django.calls == calls  # answered in front of Django
    assert from_layer == call(django_application, AVATAR, query)
