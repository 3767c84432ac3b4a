"""`/avatar/<hash>`: Gravatar's URL API, answered by the one image function."""

from __future__ import annotations

import hashlib
import io
from http import HTTPStatus

import pytest
from PIL import Image

from monsters.models import Generation
from tests.audit_rows import settle_audit

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL = "moby.dock@example.com"
MD5 = hashlib.md5(EMAIL.encode()).hexdigest()  # noqa: S324  (what Gravatar clients send)
SHA256 = hashlib.sha256(EMAIL.encode()).hexdigest()


def size_of(body: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(body)).size


@pytest.mark.parametrize("received", [MD5, MD5.upper(), SHA256])
@pytest.mark.parametrize("size", [24, 80, 200])
def test_an_avatar_is_an_image_of_the_asked_size(client, renderer_server, received, size):
    response = client.get(f"/avatar/{received}?s={size}")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "image/png"
    assert size_of(response.content) == (size, size)
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"


def test_any_case_of_one_hash_is_one_avatar(client, renderer_server):
    lower = client.get(f"/avatar/{MD5}")
    upper = client.get(f"/avatar/{MD5.upper()}")
    assert lower.content == upper.content
    assert lower["ETag"] == upper["ETag"]
    assert upper["X-Cache"] == "HIT"


def test_the_default_size_is_80_and_the_long_name_works(client, renderer_server):
    assert size_of(client.get(f"/avatar/{MD5}").content) == (80, 80)
    assert size_of(client.get(f"/avatar/{MD5}?size=48").content) == (48, 48)


@pytest.mark.parametrize("extension", ["", ".png", ".jpg", ".jpeg", "/", ".jpg/"])
def test_jpeg_and_no_extension_are_answered_as_png(client, renderer_server, extension):
    response = client.get(f"/avatar/{MD5}{extension}?s=32")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "image/png"
    assert size_of(response.content) == (32, 32)


@pytest.mark.parametrize(
    ("extension", "content_type"), [(".webp", "image/webp"), (".svg", "image/svg+xml")]
)
def test_webp_and_svg(client, renderer_server, extension, content_type):
    response = client.get(f"/avatar/{MD5}{extension}?s=32")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == content_type


@pytest.mark.parametrize("query", ["d=404", "default=404", "d=404&f=y", "d=404&reset_cache=123"])
def test_d_404_is_a_404(client, renderer_server, query):
    response = client.get(f"/avatar/{MD5}?{query}")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert renderer_server.count == 0


def test_a_304_for_the_etag(client, renderer_server):
    etag = client.get(f"/avatar/{MD5}?s=40")["ETag"]
    response = client.get(f"/avatar/{MD5}?s=40", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == HTTPStatus.NOT_MODIFIED
    assert response["Access-Control-Allow-Origin"] == "*"


def test_sizes_outside_what_is_drawn_are_drawn_at_the_nearest_size(client, renderer_server):
    assert size_of(client.get(f"/avatar/{MD5}?s=2048").content) == (1024, 1024)
    assert size_of(client.get(f"/avatar/{MD5}?s=1").content) == (8, 8)


@pytest.mark.parametrize("size", ["0", "2049", "-1", "abc", "99999"])
def test_sizes_outside_gravatars_range_are_refused(client, size):
    response = client.get(f"/avatar/{MD5}?s={size}")
    assert response.status_code == HTTPStatus.BAD_REQUEST


def test_an_avatar_miss_is_recorded_as_avatar_with_its_style_and_a_keyed_id(
    client, renderer_server
):
    client.get(f"/avatar/{MD5}?s=64")
    settle_audit()
    row = Generation.objects.get()
    assert row.origin == Generation.Origin.AVATAR
    assert row.style == "monster"
    assert row.name_hash not in (MD5, SHA256)
    assert len(row.name_hash) == 64


def test_changing_the_salt_changes_the_avatar(client, renderer_server, settings):
    before = client.get(f"/avatar/{MD5}").content
    settings.IDENTIDOCK_SALT = "another secret salt"
    assert client.get(f"/avatar/{MD5}").content != before


@pytest.mark.parametrize(
    "default", ["monsterid", "wavatar", "junk", "http://not-allowed.example/a.png", ""]
)
def test_defaults_drawn_as_the_monster_are_the_same_image(client, renderer_server, default):
    plain = client.get(f"/avatar/{MD5}?s=40")
    response = client.get(f"/avatar/{MD5}?s=40&d={default}")
    assert response.status_code == HTTPStatus.OK
    assert response["ETag"] == plain["ETag"]


def test_an_allowed_url_default_redirects(client, settings):
    settings.AVATAR_DEFAULT_URL_HOSTS = ["img.example.org"]
    url = "https://img.example.org/default.png"
    response = client.get(f"/avatar/{MD5}", {"d": url})
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == url


def test_a_monster_page_url_is_unchanged_by_avatars(client, renderer_server):
    name_hash = hashlib.sha256(b"x").hexdigest()
    assert client.get(f"/monster/{name_hash}").status_code == HTTPStatus.OK
