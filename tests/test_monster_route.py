"""GET|HEAD /monster/<hash>?size=N: status codes, headers, cache hit and miss, with the
suite's settings and with the production defaults of the in-process tier and the audit
write-behind."""

from __future__ import annotations

import io
import re
from http import HTTPStatus

import pytest
from PIL import Image

from monsters.images import identity, keys
from monsters.models import Generation

pytestmark = [
    pytest.mark.django_db,
    # Every test here once more with the in-process tier and the write-behind as shipped.
    pytest.mark.usefixtures("suite_and_production_defaults"),
]

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


def _current_url(client, name: str = "Moby Dock", size: int = 80) -> str:
    """The image URL the page emits: it names the art's revision."""
    html = client.post("/", {"name": name}).content.decode()
    found = re.search(r'<img src="([^"]+)"', html)
    assert found, "the page shows a monster"
    src = found[1].replace("&amp;", "&")
    return src if size == 80 else src.replace("size=80", f"size={size}")


def _max_age(response) -> int:
    found = re.search(r"max-age=(\d+)", response["Cache-Control"])
    assert found, response["Cache-Control"]
    return int(found[1])


def test_emitted_urls_name_the_revision_and_are_immutable_for_a_year(client, renderer_server):
    url = _current_url(client)
    assert f"/monster/{MOBY}?size=80&v=" in url
    response = client.get(url)
    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response["ETag"].startswith('"') and response["ETag"].endswith('"')


def test_unversioned_url_is_fresh_for_monster_max_age_then_revalidated(
    client, renderer_server, settings
):
    settings.MONSTER_MAX_AGE = 600
    response = client.get(URL)
    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"] == "public, max-age=600"
    assert "immutable" not in response["Cache-Control"]
    assert response["ETag"]


def test_unversioned_url_keeps_a_short_freshness_by_default(client, renderer_server):
    assert 0 < _max_age(client.get(URL)) <= 24 * 60 * 60


def test_an_old_revision_redirects_to_the_current_one(client, renderer_server, settings):
    old_url = _current_url(client, size=120)
    settings.DNMONSTER_REVISION = "identidock-r99"
    response = client.get(old_url)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == f"/monster/{MOBY}?size=120&v=identidock-r99"
    assert "immutable" not in response["Cache-Control"]
    assert "max-age" not in response["Cache-Control"]
    followed = client.get(response["Location"])
    assert followed.status_code == HTTPStatus.OK
    assert Image.open(io.BytesIO(followed.content)).size == (120, 120)


def test_an_unknown_revision_redirects_and_caches_nothing(client, renderer_server):
    response = client.get(URL, {"size": 40, "v": "no-such-art"})
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == _current_url(client, size=40)
    assert renderer_server.count == 0
    assert Generation.objects.count() == 0


def test_after_a_revision_bump_an_unversioned_url_revalidates_to_new_bytes(
    client, renderer_server, settings
):
    before = client.get(URL)
    settings.DNMONSTER_REVISION = "identidock-r99"
    settings.DNMONSTER_URL = ""  # the new art: another renderer entirely
    response = client.get(URL, HTTP_IF_NONE_MATCH=before["ETag"])
    assert response.status_code == HTTPStatus.OK
    assert response["ETag"] != before["ETag"]
    assert response["X-Cache"] == "MISS"
    assert response.content  # the new revision's bytes, not a 304 for the old ones


def test_304_carries_the_same_caching_headers_as_the_200(client, renderer_server):
    for url in (URL, _current_url(client)):
        full = client.get(url)
        revalidated = client.get(url, HTTP_IF_NONE_MATCH=full["ETag"])
        assert revalidated.status_code == HTTPStatus.NOT_MODIFIED
        assert revalidated["Cache-Control"] == full["Cache-Control"]
        assert revalidated["ETag"] == full["ETag"]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?size=40",
        "?size=40&v=old",
        "?v=x&size=512",
        "?size=40&v=CURRENT",
        "?size=999&v=CURRENT",
    ],
)
def test_immutable_only_where_the_url_names_the_current_revision(client, renderer_server, query):
    current = keys.current_revision()
    response = client.get(URL + query.replace("CURRENT", current))
    fixed_bytes = f"v={current}" in query.replace("CURRENT", current)
    immutable = "immutable" in response.get("Cache-Control", "")
    assert immutable == (fixed_bytes and response.status_code == HTTPStatus.OK)


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
