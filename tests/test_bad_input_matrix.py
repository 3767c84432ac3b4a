"""Every bad input, in one place: each is answered with a 4xx and a one-line reason,
never a 500, and leaves nothing cached and nothing audited. /avatar/'s (Gravatar's URL
API): tests/test_bad_avatar_input.py."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from http import HTTPStatus

import pytest

from monsters.images import identity
from tests.bad_input import nothing_cached_or_audited, one_line_reason
from tests.form_client import FormClient
from tests.gunicorn_server import gunicorn

pytestmark = pytest.mark.django_db

MOBY = identity.hash_name("Moby Dock")
FORM = "application/x-www-form-urlencoded"

NAMES = {
    "empty": b"name=",
    "whitespace": b"name=%20%20%09",
    "201 characters": b"name=" + b"x" * 201,
    "control character": b"name=bell%07",
    "NUL": b"name=nul%00here",
    "lone surrogate": b"name=%ED%A0%80",
    "invalid UTF-8": b"name=%FF%FE",
    "RTL override alone": b"name=%E2%80%AE",
    "zero-width space alone": b"name=%E2%80%8B",
    "Hangul filler alone": b"name=%E3%85%A4",
    "braille blank alone": b"name=%E2%A0%80",
    "combining mark alone": b"name=%CC%81",
    "line separator inside": b"name=Moby%E2%80%A8Dock",
    "paragraph separator inside": b"name=Moby%E2%80%A9Dock",
    "1 MB": b"name=" + b"m" * (1024 * 1024),
}


@pytest.mark.parametrize("body", NAMES.values(), ids=NAMES.keys())
def test_bad_names(client, renderer_server, body):
    response = client.post("/", body, content_type=FORM)
    assert HTTPStatus.BAD_REQUEST <= response.status_code < HTTPStatus.INTERNAL_SERVER_ERROR
    assert one_line_reason(response).count("\n") == 1
    assert len(response.content) < 20_000  # the page, never the input echoed whole
    assert nothing_cached_or_audited()


def test_a_multipart_file_instead_of_a_name(client, renderer_server):
    body = (
        b'--b\r\nContent-Disposition: form-data; name="name"; filename="big.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + b"\0" * 100_000 + b"\r\n--b--\r\n"
    )
    response = client.post("/", body, content_type="multipart/form-data; boundary=b")
    assert response.status_code == HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    assert one_line_reason(response).count("\n") == 1
    assert nothing_cached_or_audited()


HASHES = {
    "63 characters": MOBY[:63],
    "65 characters": MOBY + "0",
    "uppercase": MOBY.upper(),
    "not hex": "g" * 64,
    "dot dot slash": "../" + MOBY[3:],
    "encoded slash": "%2F" + MOBY[3:],
    "encoded dots": "%2e%2e" + MOBY[6:],
    "unicode digits": "\u0661" * 64,
}


@pytest.mark.parametrize("name_hash", HASHES.values(), ids=HASHES.keys())
def test_bad_hashes(client, renderer_server, name_hash):
    response = client.get(f"/monster/{name_hash}", {"size": 80})
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert one_line_reason(response).count("\n") == 1
    assert renderer_server.count == 0
    assert nothing_cached_or_audited()


EXTENSIONS = {
    "unknown format": ".gif",
    "upper case": ".PNG",
    "two extensions": ".svg.png",
    "dot alone": ".",
    "two dots": "..svg",
    "compressed svg": ".svgz",
    "trailing slash": ".svg/",
    "NUL after": ".svg%00",
    "path after": ".webp/x",
}


@pytest.mark.parametrize("extension", EXTENSIONS.values(), ids=EXTENSIONS.keys())
def test_bad_extensions(client, renderer_server, extension):
    response = client.get(f"/monster/{MOBY}{extension}", {"size": 80})
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert one_line_reason(response).count("\n") == 1
    assert renderer_server.count == 0
    assert nothing_cached_or_audited()


@pytest.mark.parametrize("name_hash", HASHES.values(), ids=HASHES.keys())
def test_bad_hashes_with_an_extension_and_on_the_monsters_page(client, renderer_server, name_hash):
    for path in (f"/monster/{name_hash}.svg", f"/monster/{name_hash}.webp", f"/m/{name_hash}"):
        response = client.get(path)
        assert response.status_code == HTTPStatus.NOT_FOUND
        assert one_line_reason(response).count("\n") == 1
    assert renderer_server.count == 0
    assert nothing_cached_or_audited()


SIZES = ["0", "15", "513", "-1", "1e3", "80abc", " 80", "\uff18\uff10", "9" * 20, "80.0", ""]


@pytest.mark.parametrize("path", ["", ".png", ".svg", ".webp"])
@pytest.mark.parametrize("size", SIZES[:-1])
def test_bad_sizes(client, renderer_server, size, path):
    response = client.get(f"/monster/{MOBY}{path}", {"size": size})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert one_line_reason(response).count("\n") == 1
    assert "size must be" in response.content.decode()
    assert renderer_server.count == 0
    assert nothing_cached_or_audited()


def test_svg_of_art_we_do_not_draw(client, renderer_server, settings):
    settings.DNMONSTER_REVISION = "amouat-1.0"
    response = client.get(f"/monster/{MOBY}.svg", {"size": 80})
    assert response.status_code == HTTPStatus.NOT_ACCEPTABLE
    assert one_line_reason(response).count("\n") == 1
    assert renderer_server.count == 0
    assert nothing_cached_or_audited()


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
@pytest.mark.parametrize(
    "path",
    [
        f"/monster/{MOBY}",
        f"/monster/{MOBY}.png",
        f"/monster/{MOBY}.svg",
        f"/monster/{MOBY}.webp",
        f"/m/{MOBY}",
        "/healthz",
        "/readyz",
    ],
)
def test_bad_methods(client, renderer_server, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["Allow"] == "GET, HEAD"
    assert one_line_reason(response).count("\n") == 1
    assert nothing_cached_or_audited()


@pytest.mark.parametrize("method", ["put", "patch", "delete", "options"])
def test_bad_methods_on_the_home_page(renderer_server, method):
    client = FormClient(enforce_csrf_checks=True)  # the 405 comes before any CSRF check
    response = getattr(client, method)("/")
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["Allow"] == "GET, HEAD, POST"
    assert one_line_reason(response).count("\n") == 1
    assert nothing_cached_or_audited()


# --- What only the HTTP server sees: oversized headers, under the shipped config ---------


@pytest.fixture(scope="module")
def gunicorn_url() -> Iterator[str]:
    environment = {
        "SECRET_KEY": "bad-input-matrix-only",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": "sqlite:///:memory:",
    }
    with gunicorn(environment) as address:
        yield address


def raw_request(address: str, head: bytes) -> bytes:
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize(
    "head",
    [
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + b"".join(b"X-H%d: v\r\n" % n for n in range(200))
        + b"\r\n",
        b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    ],
    ids=["one huge header", "too many headers", "huge request line"],
)
def test_oversized_headers_are_refused_by_the_server(gunicorn_url, head):
    status_line = raw_request(gunicorn_url, head).split(b"\r\n", 1)[0]
    status = int(status_line.split()[1])
    assert HTTPStatus.BAD_REQUEST <= status < HTTPStatus.INTERNAL_SERVER_ERROR


@pytest.mark.parametrize(
    "header",
    [b"SCRIPT_NAME: /x", b"SCRIPT_NAME: /healthz", b"PATH_INFO: /admin/", b"REMOTE_USER: admin"],
)
def test_headers_that_would_set_the_wsgi_environ_are_ignored(gunicorn_url, header):
    """gunicorn maps a SCRIPT_NAME or PATH_INFO header from a trusted peer (loopback is one)
    into the environ; a path outside the prefix was a 500, one inside moved the app."""
    answer = raw_request(
        gunicorn_url,
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + header + b"\r\n\r\n",
    )
    assert answer.split(b"\r\n", 1)[0] == b"HTTP/1.1 200 OK"


def test_scheme_headers_that_contradict_the_proxys_do_not_make_gunicorn_refuse(gunicorn_url):
    """gunicorn believes only X-Forwarded-Proto: X-Forwarded-Ssl: on beside
    X-Forwarded-Proto: http was its 400 for a request the client could not get through."""
    answer = raw_request(
        gunicorn_url,
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"X-Forwarded-Proto: http\r\nX-Forwarded-Ssl: on\r\nX-Forwarded-Protocol: ssl\r\n\r\n",
    )
    assert answer.split(b"\r\n", 1)[0] == b"HTTP/1.1 200 OK"
