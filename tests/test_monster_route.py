"""GET|HEAD /monster/<hash>?size=N: status codes, headers, cache hit and miss."""

from __future__ import annotations

import io
from http import HTTPStatus

import pytest
from PIL import Image

from monsters import identity
from monsters.models import Generation

pytestmark = pytest.mark.django_db

MOBY = identity.hash_name("Moby Dock")
URL = f"/monster/{MOBY}"


def test_monster_is_a_png_of_the_default_size_80(client, renderer_server):
    response = client.get(URL)
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "image/png"
    assert int(response["Content-Length"]) == len(response.content)
    assert Image.open(io.BytesIO(response.content)).size == (80, 80)


@pytest.mark.parametrize("size", [16, 120, 512])
def test_size_parameter_sets_the_image_size(client, renderer_server, size):
    response = client.get(URL, {"size": size})
    assert Image.open(io.BytesIO(response.content)).size == (size, size)


def test_long_lived_caching_headers(client, renderer_server):
    response = client.get(URL)
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response["ETag"].startswith('"') and response["ETag"].endswith('"')


def test_second_request_is_served_from_cache(client, renderer_server):
    first = client.get(URL)
    second = client.get(URL)
    assert first["X-Cache"] == "MISS"
    assert second["X-Cache"] == "HIT"
    assert first.content == second.content
    assert renderer_server.count == 1
    assert Generation.objects.count() == 1


def test_cache_hit_makes_no_sql_query_and_no_renderer_call(
    client, renderer_server, django_assert_num_queries
):
    client.get(URL)
    calls_before = renderer_server.count
    with django_assert_num_queries(0):
        response = client.get(URL)
    assert response["X-Cache"] == "HIT"
    assert renderer_server.count == calls_before


def test_cache_miss_records_one_audit_row_without_the_name(client, renderer_server):
    client.get(URL, {"size": 120})
    row = Generation.objects.get()
    assert row.name_hash == MOBY
    assert row.size == 120
    assert row.source == "dnmonster"
    assert row.origin == Generation.Origin.WEB
    assert row.png_bytes > 0
    assert row.render_ms >= 0


def test_each_size_is_cached_separately(client, renderer_server):
    assert client.get(URL, {"size": 80})["X-Cache"] == "MISS"
    assert client.get(URL, {"size": 160})["X-Cache"] == "MISS"
    assert client.get(URL, {"size": 80})["X-Cache"] == "HIT"
    assert Generation.objects.count() == 2


def test_builtin_renderer_serves_when_no_renderer_url_is_set(client, settings):
    settings.DNMONSTER_URL = ""
    response = client.get(URL)
    assert response.status_code == HTTPStatus.OK
    assert Image.open(io.BytesIO(response.content)).size == (80, 80)
    assert Generation.objects.get().source == "builtin"


def test_builtin_and_http_renderer_draw_the_same_monster(client, settings, renderer_server):
    over_http = client.get(URL).content
    settings.DNMONSTER_URL = ""
    in_process = client.get(URL).content
    assert over_http == in_process


def test_matching_if_none_match_gets_304_without_a_body(client, renderer_server):
    etag = client.get(URL)["ETag"]
    response = client.get(URL, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == HTTPStatus.NOT_MODIFIED
    assert response.content == b""
    assert response["ETag"] == etag


def test_stale_if_none_match_gets_the_image(client, renderer_server):
    response = client.get(URL, HTTP_IF_NONE_MATCH='"something-else"')
    assert response.status_code == HTTPStatus.OK


def test_etag_differs_by_size_hash_and_source(client, settings, renderer_server):
    other = identity.hash_name("Joe Bloggs")
    etags = {
        client.get(URL)["ETag"],
        client.get(URL, {"size": 81})["ETag"],
        client.get(f"/monster/{other}")["ETag"],
    }
    settings.DNMONSTER_URL = ""
    etags.add(client.get(URL)["ETag"])
    assert len(etags) == 4


def test_head_answers_headers_without_a_body(client, renderer_server):
    response = client.head(URL)
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "image/png"
    assert int(response["Content-Length"]) > 0
    assert response.content == b""


@pytest.mark.parametrize(
    "path",
    [
        f"/monster/{MOBY.upper()}",
        f"/monster/{MOBY[:63]}",
        f"/monster/{MOBY}0",
        "/monster/Moby%20Dock",
        "/monster/",
    ],
)
def test_anything_but_64_lowercase_hex_is_404(client, path):
    assert client.get(path).status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize("size", ["15", "513", "0", "-1", "80.5", "abc", "８０", "1e2"])
def test_bad_size_is_400_with_a_one_line_reason(client, renderer_server, size):
    response = client.get(URL, {"size": size})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    assert body.count("\n") == 1 and "size must be" in body
    assert renderer_server.count == 0


def test_post_is_not_allowed(client):
    assert client.post(URL).status_code == HTTPStatus.METHOD_NOT_ALLOWED
