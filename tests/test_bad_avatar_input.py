"""Every bad input to /avatar/ (Gravatar's URL API), in one place, beside the good ones
at its edges: a bad hash, extension or method is answered with a 4xx, a size outside
Gravatar's range with a 400 and a one-line reason, never a 500, and nothing cached and
nothing audited; a junk default or a hostile `d=` URL gets the plain avatar, never a
redirect."""

from __future__ import annotations

import io
from http import HTTPStatus

import pytest
from PIL import Image

from monsters.images import identity
from tests.bad_input import nothing_cached_or_audited, one_line_reason

pytestmark = pytest.mark.django_db

EMAIL_MD5 = "0bc83cb571cd1c50ba6f3e8a78ef1346"  # md5("myemailaddress@example.com")
EMAIL_SHA256 = identity.hash_name("Moby Dock")  # any 64 hex characters


AVATAR_HASHES = {
    "31 characters": EMAIL_MD5[:31],
    "33 characters": EMAIL_MD5 + "0",
    "48 characters": EMAIL_SHA256[:48],
    "63 characters": EMAIL_SHA256[:63],
    "65 characters": EMAIL_SHA256 + "0",
    "not hex": "g" * 32,
    "empty": "",
    "encoded slash": "%2F" + EMAIL_MD5[3:],
    "unicode digits": "\u0661" * 32,
}


@pytest.mark.parametrize("avatar_hash", AVATAR_HASHES.values(), ids=AVATAR_HASHES.keys())
def test_bad_avatar_hashes(client, renderer_server, avatar_hash):
    response = client.get(f"/avatar/{avatar_hash}", {"s": 80})
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert renderer_server.count == 0
    assert nothing_cached_or_audited()


@pytest.mark.parametrize(
    "avatar_hash",
    [EMAIL_MD5, EMAIL_MD5.upper(), EMAIL_SHA256, EMAIL_SHA256.upper(), "aB" * 16],
    ids=["md5", "MD5", "sha256", "SHA256", "mixed case"],
)
def test_avatar_hashes_of_either_length_in_any_case(client, renderer_server, avatar_hash):
    assert client.get(f"/avatar/{avatar_hash}").status_code == HTTPStatus.OK


@pytest.mark.parametrize(
    "query",
    ["s=0", "s=2049", "size=0", "size=2049", "s=-1", "s=1e3", "s=%EF%BC%91", "s=99999", "s=+80"],
)
def test_avatar_sizes_outside_gravatars_range(client, renderer_server, query):
    response = client.get(f"/avatar/{EMAIL_MD5}?{query}")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert one_line_reason(response).count("\n") == 1
    assert response["Access-Control-Allow-Origin"] == "*"
    assert nothing_cached_or_audited()


@pytest.mark.parametrize(
    ("query", "drawn"), [("s=1", 8), ("s=8", 8), ("s=1024", 1024), ("s=2048", 1024)]
)
def test_avatar_sizes_at_the_edges_are_drawn_within_the_renderers_range(
    client, renderer_server, query, drawn
):
    response = client.get(f"/avatar/{EMAIL_MD5}?{query}")
    assert response.status_code == HTTPStatus.OK
    assert Image.open(io.BytesIO(response.content)).size == (drawn, drawn)


JUNK_DEFAULTS = ["<script>", "%00", "x" * 5000, "404x", "IDENTICON2", "%E2%80%AE", "monster"]


@pytest.mark.parametrize("default", JUNK_DEFAULTS, ids=range(len(JUNK_DEFAULTS)))
def test_junk_defaults_draw_the_default_style(client, renderer_server, default):
    plain = client.get(f"/avatar/{EMAIL_MD5}")
    response = client.get(f"/avatar/{EMAIL_MD5}?d={default}")
    assert response.status_code == HTTPStatus.OK
    assert response["ETag"] == plain["ETag"]


HOSTILE_URLS = {
    "javascript": "javascript:alert(1)",
    "scheme-relative": "//evil.example/x.png",
    "user part": "http://allowed.example@evil.example/x.png",
    "user part with port": "http://allowed.example:80@evil.example/",
    "other host": "https://evil.example/x.png",
    "suffix host": "http://allowed.example.evil.example/x.png",
    "backslashes": "http:\\\\evil.example\\x.png",
    "backslash before @": "http://evil.example\\@allowed.example/",
    "one slash": "https:/evil.example/x.png",
    "data": "data:image/png;base64,AAAA",
    "ftp": "ftp://allowed.example/x.png",
    "leading tab": "\thttp://allowed.example/x.png",
    "newline": "http://allowed.example/x.png\r\nSet-Cookie: a=b",
    "encoded @": "http://allowed.example%40evil.example/",
    "relative": "/admin/",
}


@pytest.mark.parametrize("url", HOSTILE_URLS.values(), ids=HOSTILE_URLS.keys())
def test_hostile_urls_in_d_never_redirect(client, renderer_server, settings, url):
    settings.AVATAR_DEFAULT_URL_HOSTS = ["allowed.example"]
    plain = client.get(f"/avatar/{EMAIL_MD5}")
    for name in ("d", "default"):
        response = client.get(f"/avatar/{EMAIL_MD5}", {name: url})
        assert response.status_code == HTTPStatus.OK, url
        assert "Location" not in response
        assert response["ETag"] == plain["ETag"]


def test_an_allowed_url_in_d_redirects_and_nothing_is_drawn(client, renderer_server, settings):
    settings.AVATAR_DEFAULT_URL_HOSTS = ["allowed.example"]
    response = client.get(f"/avatar/{EMAIL_MD5}", {"d": "https://allowed.example/x.png"})
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "https://allowed.example/x.png"
    assert renderer_server.count == 0
    assert nothing_cached_or_audited()


AVATAR_EXTENSIONS = {
    "": "image/png",
    ".png": "image/png",
    ".jpg": "image/png",
    ".jpeg": "image/png",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    "/": "image/png",
    ".jpg/": "image/png",
}


@pytest.mark.parametrize(
    ("extension", "content_type"), AVATAR_EXTENSIONS.items(), ids=list(AVATAR_EXTENSIONS)
)
def test_every_avatar_extension(client, renderer_server, extension, content_type):
    response = client.get(f"/avatar/{EMAIL_MD5}{extension}")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == content_type


BAD_AVATAR_EXTENSIONS = [".gif", ".PNG", ".svgz", ".jpg.png", "..png", ".", ".png/x", "//"]


@pytest.mark.parametrize("extension", BAD_AVATAR_EXTENSIONS)
def test_bad_avatar_extensions(client, renderer_server, extension):
    response = client.get(f"/avatar/{EMAIL_MD5}{extension}")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert renderer_server.count == 0
    assert nothing_cached_or_audited()


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
def test_bad_methods_on_avatars(client, renderer_server, method):
    response = getattr(client, method)(f"/avatar/{EMAIL_MD5}")
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["Allow"] == "GET, HEAD"
    assert nothing_cached_or_audited()
