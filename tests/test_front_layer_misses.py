"""Misses answered by the front layer (monsters/web/front.py) without Django's request
cycle, by the same function the views call (monsters/web/miss.py): the same answer,
header for header, whether the image is drawn, the client is over its limit or the
renderer fails; one cache read, one render, one audit row."""

from __future__ import annotations

import pytest
from django.core.signals import request_started

from identidock.wsgi import django_application
from monsters.audit import writer
from monsters.guards import cache
from monsters.images import answer, identity, keys, service
from monsters.images import headers as image_headers
from monsters.models import Generation
from monsters.web.front import FastImages
from tests import wsgi_calls
from tests.wsgi_calls import CountingDjango

pytestmark = pytest.mark.django_db(transaction=True)

MOBY = identity.hash_name("Moby Dock")
PATH = f"/monster/{MOBY}"
AVATAR = "/avatar/" + "b" * 32 + "?s=80"


def call(app, path: str = PATH, query: str = "", method: str = "GET", **headers: str):
    return wsgi_calls.call(app, path, query, method, b"", **headers)


def current_query(size: int = 80) -> str:
    return f"size={size}&v={keys.current_revision()}"


@pytest.fixture
def fast():
    django = CountingDjango()
    return FastImages(django), django


def _format_of(path: str) -> str:
    return path.rsplit(".", 1)[1] if "." in path.rsplit("/", 1)[-1] else "png"


@pytest.mark.usefixtures("renderer_server", "suite_and_production_defaults")
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("extension", ["", ".webp", ".svg"])
def test_a_miss_from_the_layer_is_the_miss_django_answers(fast, extension, method):
    layer, django = fast
    path, query = PATH + extension, current_query()
    from_django = call(django_application, path, query, method)
    service.evict_specs([keys.Spec(MOBY, 80, _format_of(path))])
    from_layer = call(layer, path, query, method)
    assert from_layer == from_django
    assert from_layer[0] == "200 OK" and ("X-Cache", "MISS") in from_layer[1]
    assert django.calls == 0
    writer.writer().flush()  # the rows written behind the answers (production defaults)
    assert Generation.objects.filter(origin=Generation.Origin.WEB).count() == 2


@pytest.mark.usefixtures("renderer_server")
def test_a_miss_reads_the_cache_once_and_renders_once(fast, monkeypatch, renderer_server):
    layer, _ = fast
    reads = []
    read = cache.get
    monkeypatch.setattr(cache, "get", lambda key: reads.append(key) or read(key))
    status, headers, _ = call(layer, query=current_query())
    assert status == "200 OK" and ("X-Cache", "MISS") in headers
    assert len(reads) == 1
    assert renderer_server.count == 1
    assert Generation.objects.count() == 1


@pytest.mark.usefixtures("renderer_server")
def test_an_avatar_miss_is_recorded_as_an_avatar_and_readable_by_any_site(fast):
    layer, django = fast
    path, query = AVATAR.split("?")
    status, headers, body = call(layer, path, query)
    assert status == "200 OK" and body.startswith(b"\x89PNG")
    assert ("Access-Control-Allow-Origin", "*") in headers
    assert django.calls == 0
    assert list(Generation.objects.values_list("origin", flat=True)) == ["avatar"]


@pytest.mark.usefixtures("renderer_server")
@pytest.mark.parametrize("path", [PATH, AVATAR.split("?")[0]])
def test_over_the_limit_both_layers_refuse_alike(fast, settings, path):
    layer, _ = fast
    settings.RATE_LIMIT_MISS_BURST = 1
    settings.RATE_LIMIT_MISSES_PER_MINUTE = 1
    query = current_query() if path == PATH else "s=80"
    assert call(layer, path, query)[0] == "200 OK"  # the one token
    other = identity.hash_name("someone else")
    other_path = f"/monster/{other}" if path == PATH else "/avatar/" + "c" * 32
    from_layer = call(layer, other_path, query)
    from_django = call(django_application, other_path, query)
    assert from_layer == from_django
    status, headers, body = from_layer
    assert status == "429 Too Many Requests"
    assert dict(headers)["Cache-Control"] == "no-store"
    assert dict(headers)["RateLimit-Policy"] == '"misses";q=1;w=60;burst=1'
    assert int(dict(headers)["Retry-After"]) >= 1
    assert body == b"Too many new monsters at once; please wait a moment.\n"
    assert (("Access-Control-Allow-Origin", "*") in headers) == (path != PATH)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_failing_renderer_gets_the_same_503_from_both_layers(fast, refusing_renderer, method):
    layer, django = fast
    from_layer = call(layer, query=current_query(), method=method)
    from_django = call(django_application, query=current_query(), method=method)
    assert from_layer == from_django
    status, headers, body = from_layer
    assert status == "503 Service Unavailable"
    assert dict(headers)["Retry-After"].isdigit()
    assert dict(headers)["Cache-Control"] == "no-store"
    reason = b"The monster renderer is unavailable; please try again shortly.\n"
    assert body == (b"" if method == "HEAD" else reason)
    assert django.calls == 0
    assert Generation.objects.count() == 0


def test_the_shipped_application_answers_a_miss_and_a_hit_without_django(renderer_server):
    from identidock import wsgi

    reached_django = []

    def note(**kwargs) -> None:
        reached_django.append(kwargs["environ"]["PATH_INFO"])

    request_started.connect(note)
    try:
        miss = call(wsgi.application, query=current_query())
        hit = call(wsgi.application, query=current_query())
    finally:
        request_started.disconnect(note)
    assert ("X-Cache", "MISS") in miss[1] and ("X-Cache", "HIT") in hit[1]
    assert hit[2] == miss[2]
    assert reached_django == []
    assert Generation.objects.count() == 1


@pytest.mark.usefixtures("renderer_server")
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_failure_no_guard_expected_is_djangos_one_line_500(fast, monkeypatch, caplog, method):
    layer, django = fast

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the miss path")

    monkeypatch.setattr(service, "get_picture", broken)
    status, headers, body = call(layer, query=current_query(), method=method)
    django_status, _, django_body = call(django_application, query=current_query())
    assert status == django_status == "500 Internal Server Error"
    assert body == (b"" if method == "HEAD" else django_body)
    assert django_body == f"{answer.SERVER_ERROR}\n".encode()
    assert dict(headers)["Content-Type"] == "text/plain; charset=utf-8"
    for header in image_headers.django_headers(secure=False):
        assert header in headers
    assert django.calls == 0
    logged = [r for r in caplog.records if r.name == "monsters.web.front"]
    assert logged and logged[0].exc_info is not None
    assert MOBY not in logged[0].getMessage()
