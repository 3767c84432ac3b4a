"""GET|HEAD /monster/<hash>.png|.svg|.webp: one image route per format, each with its own
cache key, ETag and audit row, the same rules for sizes, revisions, rate limits and
failures, and a 406 for SVG when the renderer draws art that is not ours."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus

import pytest
from django.db import connection
from PIL import Image

import renderer
from monsters.guards.sources import OUR_ART_REVISION
from monsters.images import identity, keys, service
from monsters.models import Generation
from tests.form_client import FormClient

pytestmark = pytest.mark.django_db(transaction=True)

MOBY = identity.hash_name("Moby Dock")
BARE = f"/monster/{MOBY}"
CONTENT_TYPES = {"png": "image/png", "svg": "image/svg+xml", "webp": "image/webp"}


def url(fmt: str) -> str:
    return f"{BARE}.{fmt}"


def pixels(data: bytes) -> bytes:
    return Image.open(io.BytesIO(data)).convert("RGBA").tobytes()


def nothing_cached_or_audited() -> bool:
    entries = [keys.Spec(MOBY, 80, fmt) for fmt in CONTENT_TYPES]
    return not service.cached_specs(entries) and not Generation.objects.exists()


@pytest.mark.parametrize("fmt", ["png", "svg", "webp"])
def test_each_extension_answers_its_format_a_miss_then_a_hit(client, renderer_server, fmt):
    first = client.get(url(fmt), {"size": 120})
    assert first.status_code == HTTPStatus.OK
    assert first["Content-Type"] == CONTENT_TYPES[fmt]
    assert int(first["Content-Length"]) == len(first.content)
    assert first["X-Cache"] == "MISS"
    second = client.get(url(fmt), {"size": 120})
    assert second["X-Cache"] == "HIT"
    assert second.content == first.content
    assert second["ETag"] == first["ETag"]


def test_the_svg_is_drawn_in_process_for_a_renderer_that_draws_our_art(client, renderer_server):
    response = client.get(url("svg"), {"size": 256})
    assert response.content == renderer.render_svg(MOBY, 256)
    assert renderer_server.count == 0  # a PNG renderer has no SVG to give
    row = Generation.objects.get()
    assert (row.format, row.source, row.png_bytes) == ("svg", "builtin", len(response.content))


def test_the_webp_is_the_renderers_png_converted_losslessly(client, renderer_server):
    response = client.get(url("webp"), {"size": 256})
    assert pixels(response.content) == pixels(renderer.render(MOBY, 256))
    assert renderer_server.requests == [f"/monster/{MOBY}?size=256"]
    row = Generation.objects.get()
    assert (row.format, row.source) == ("webp", "dnmonster")


@pytest.mark.parametrize("fmt", ["png", "svg", "webp"])
def test_the_builtin_renderer_draws_every_format(client, settings, fmt):
    settings.DNMONSTER_URL = ""
    response = client.get(url(fmt))
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == CONTENT_TYPES[fmt]
    assert Generation.objects.get().source == "builtin"


def test_png_with_an_extension_is_the_bare_urls_image_and_cache_entry(client, renderer_server):
    bare = client.get(BARE)
    explicit = client.get(url("png"))
    assert explicit["X-Cache"] == "HIT"
    assert (explicit.content, explicit["ETag"]) == (bare.content, bare["ETag"])
    assert Generation.objects.count() == 1


def test_png_keys_are_the_keys_from_before_formats_the_others_add_a_suffix(renderer_server):
    revision = keys.current_revision()
    stem = f"monster:v1:{revision}:80:{MOBY}"
    by_format = {fmt: keys.locate(name_hash=MOBY, size=80, fmt=fmt).key for fmt in CONTENT_TYPES}
    assert by_format == {"png": stem, "svg": f"{stem}.svg", "webp": f"{stem}.webp"}
    assert keys.locate(name_hash=MOBY, size=80).key == stem


def test_each_format_has_its_own_etag(client, renderer_server):
    etags = {client.get(url(fmt))["ETag"] for fmt in CONTENT_TYPES}
    assert len(etags) == 3


@pytest.mark.parametrize("fmt", ["svg", "webp"])
def test_a_matching_etag_gets_304_with_the_same_caching_headers(client, renderer_server, fmt):
    current = f"{url(fmt)}?size=80&v={keys.current_revision()}"
    full = client.get(current)
    again = client.get(current, HTTP_IF_NONE_MATCH=full["ETag"])
    assert again.status_code == HTTPStatus.NOT_MODIFIED
    assert again["Cache-Control"] == full["Cache-Control"] == "public, max-age=31536000, immutable"
    assert again.get("Content-Security-Policy") == full.get("Content-Security-Policy")


def test_an_svg_carries_a_policy_that_lets_it_run_and_load_nothing(client, renderer_server):
    response = client.get(url("svg"))
    assert response["Content-Security-Policy"] == "default-src 'none'"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_raster_images_carry_no_policy(client, renderer_server, fmt):
    assert "Content-Security-Policy" not in client.get(url(fmt))


@pytest.mark.parametrize("fmt", ["svg", "webp"])
def test_an_old_revision_redirects_to_the_current_one_in_the_same_format(
    client, renderer_server, fmt
):
    response = client.get(url(fmt), {"size": 40, "v": "identidock-r0"})
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == f"{url(fmt)}?size=40&v={OUR_ART_REVISION}"
    assert nothing_cached_or_audited()


def test_head_answers_an_svgs_headers_without_a_body(client, renderer_server):
    response = client.head(url("svg"))
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "image/svg+xml"
    assert int(response["Content-Length"]) > 0
    assert response.content == b""


# --- A renderer that draws someone else's art --------------------------------------------


@pytest.fixture
def foreign_art(renderer_server, settings):
    """A dnmonster that draws art other than ours (the original amouat/dnmonster)."""
    settings.DNMONSTER_REVISION = "amouat-1.0"
    return renderer_server


def test_svg_of_another_renderers_art_is_406_with_a_one_line_reason(client, foreign_art):
    response = client.get(url("svg"))
    assert response.status_code == HTTPStatus.NOT_ACCEPTABLE
    assert response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    assert body.count("\n") == 1
    assert "amouat-1.0" in body and ".png" in body
    assert response["Cache-Control"] == "no-store"
    assert foreign_art.count == 0
    assert nothing_cached_or_audited()


def test_the_406_comes_before_redirects_and_revalidations(client, foreign_art):
    etag = keys.locate(name_hash=MOBY, size=80, fmt="svg").etag
    for query in ({"v": "identidock-r1"}, {"v": "amouat-1.0"}):
        assert client.get(url("svg"), query).status_code == HTTPStatus.NOT_ACCEPTABLE
    revalidated = client.get(url("svg"), HTTP_IF_NONE_MATCH=etag)
    assert revalidated.status_code == HTTPStatus.NOT_ACCEPTABLE


def test_a_406_costs_no_rate_limit_token(client, foreign_art, settings):
    settings.RATE_LIMIT_MISS_BURST = 1
    settings.RATE_LIMIT_MISSES_PER_MINUTE = 1
    for _ in range(3):
        assert client.get(url("svg")).status_code == HTTPStatus.NOT_ACCEPTABLE
    assert client.get(url("webp")).status_code == HTTPStatus.OK


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_raster_formats_of_another_renderers_art_are_served(client, foreign_art, fmt):
    response = client.get(url(fmt))
    assert response.status_code == HTTPStatus.OK
    assert pixels(response.content) == pixels(renderer.render(MOBY, 80))


# --- The same rules as PNG ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["svg", "webp"])
def test_misses_in_every_format_share_the_clients_rate_limit(
    client, renderer_server, settings, fmt
):
    settings.RATE_LIMIT_MISS_BURST = 2
    settings.RATE_LIMIT_MISSES_PER_MINUTE = 1
    assert client.get(BARE).status_code == HTTPStatus.OK
    assert client.get(url(fmt)).status_code == HTTPStatus.OK
    refused = client.get(url(fmt), {"size": 81})
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert refused["Cache-Control"] == "no-store"
    # Hits are never limited.
    assert client.get(url(fmt))["X-Cache"] == "HIT"


def _get_in_thread(fmt: str) -> service.Picture:
    try:
        return service.get_picture(keys.locate(name_hash=MOBY, size=64, fmt=fmt))
    finally:
        connection.close()


@pytest.mark.parametrize("fmt", ["svg", "webp"])
def test_concurrent_misses_of_one_format_make_one_render_and_one_row(renderer_server, fmt):
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(_get_in_thread, [fmt] * 6))
    assert len({result.image for result in results}) == 1
    assert Generation.objects.count() == 1
    assert renderer_server.count == (1 if fmt == "webp" else 0)


@pytest.mark.parametrize("mode", ["not-png", "html", "error"])
def test_a_webp_from_a_renderer_answering_garbage_is_503_and_nothing_is_kept(
    client, bad_renderer, settings, mode
):
    bad_renderer.mode = mode
    response = client.get(url("webp"))
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response["Cache-Control"] == "no-store"
    assert nothing_cached_or_audited()


def test_a_png_that_does_not_decode_is_served_as_png_but_not_converted(client, bad_renderer):
    bad_renderer.mode = "broken-png"  # a PNG's signature, then garbage
    assert client.get(url("webp")).status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert not Generation.objects.exists()
    # As PNG it is passed on as before: we check what a PNG starts with, not all of it.
    assert client.get(url("png")).status_code == HTTPStatus.OK


def test_the_svg_does_not_wait_on_a_renderer_that_is_down(client, refusing_renderer, settings):
    settings.DNMONSTER_REVISION = OUR_ART_REVISION
    assert client.get(BARE).status_code == HTTPStatus.SERVICE_UNAVAILABLE
    response = client.get(url("svg"))
    assert response.status_code == HTTPStatus.OK
    assert response["X-Cache"] == "MISS"


def test_staff_thumbnails_stay_png(admin_client, renderer_server):
    response = admin_client.get(f"/admin/monsters/generation/monster/{MOBY}")
    assert response["Content-Type"] == "image/png"
    assert Generation.objects.get().format == "png"


def test_an_svg_url_is_allowed_get_and_head_only_before_any_csrf_check():
    client = FormClient(enforce_csrf_checks=True)
    for method in ("post", "put", "delete"):
        response = getattr(client, method)(url("svg"))
        assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
        assert response["Allow"] == "GET, HEAD"


def test_rows_written_by_code_from_before_formats_are_pngs():
    # What a process still running the previous release inserts during a rolling deploy.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO monsters_generation"
            " (name_hash, size, source, origin, png_bytes, render_ms, created_at)"
            " VALUES (%s, 80, 'dnmonster', 'web', 1, 1.0, now())",
            [MOBY],
        )
    assert Generation.objects.get().format == "png"
