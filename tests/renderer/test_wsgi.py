"""The renderer's dnmonster-compatible WSGI app, served by real gunicorn over real HTTP."""

from __future__ import annotations

import io
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 15
REQUEST_TIMEOUT_SECONDS = 5
MONSTER_ID = "9d19f9f3fabd63c76a2d1408e061de7ae453e8f42488dc5812948081f4035eba"


def _wait_until_listening(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited early with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"gunicorn did not listen on port {port} within the timeout")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """gunicorn running `renderer.wsgi:app` on a free port, for this module."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "renderer.wsgi:app",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            # Several gunicorns run on a test machine: don't fight over one control socket.
            "--no-control-socket",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_listening(process, port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def get(base_url: str, path: str, **params: str | int) -> requests.Response:
    return requests.get(base_url + path, params=params, timeout=REQUEST_TIMEOUT_SECONDS)


def png_size(response: requests.Response) -> tuple[int, int]:
    return Image.open(io.BytesIO(response.content)).size


def test_default_size_is_a_20_pixel_png(base_url: str) -> None:
    response = get(base_url, f"/monster/{MONSTER_ID}")
    assert response.status_code == HTTPStatus.OK
    assert response.headers["Content-Type"] == "image/png"
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert png_size(response) == (20, 20)


def test_size_parameter_sets_the_square_size(base_url: str) -> None:
    response = get(base_url, f"/monster/{MONSTER_ID}", size=80)
    assert response.status_code == HTTPStatus.OK
    assert png_size(response) == (80, 80)


def test_width_and_height_set_a_rectangular_canvas(base_url: str) -> None:
    response = get(base_url, f"/monster/{MONSTER_ID}", width=120, height=60)
    assert response.status_code == HTTPStatus.OK
    assert png_size(response) == (120, 60)


def test_width_alone_keeps_size_for_the_height(base_url: str) -> None:
    response = get(base_url, f"/monster/{MONSTER_ID}", size=40, width=100)
    assert response.status_code == HTTPStatus.OK
    assert png_size(response) == (100, 40)


def test_head_answers_the_get_headers_without_a_body(base_url: str) -> None:
    url = f"{base_url}/monster/{MONSTER_ID}?size=80"
    head = requests.head(url, timeout=REQUEST_TIMEOUT_SECONDS)
    full = requests.get(url, timeout=REQUEST_TIMEOUT_SECONDS)
    assert head.status_code == HTTPStatus.OK
    assert head.headers["Content-Type"] == "image/png"
    assert head.headers["Content-Length"] == str(len(full.content))
    assert head.content == b""


def test_same_request_gives_the_same_bytes(base_url: str) -> None:
    first = get(base_url, f"/monster/{MONSTER_ID}", size=80)
    second = get(base_url, f"/monster/{MONSTER_ID}", size=80)
    assert first.content == second.content
    assert first.content.startswith(b"\x89PNG")


def test_different_ids_give_different_images(base_url: str) -> None:
    assert get(base_url, "/monster/alice").content != get(base_url, "/monster/bob").content


def test_longest_allowed_id_with_every_allowed_character_is_accepted(base_url: str) -> None:
    identifier = ("Az09_.~-" * 16)[:128]
    response = get(base_url, f"/monster/{identifier}")
    assert response.status_code == HTTPStatus.OK


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"size": 7}, "size"),
        ({"size": 1025}, "size"),
        ({"size": "abc"}, "size"),
        ({"size": ""}, "size"),
        ({"size": "-20"}, "size"),
        ({"size": "8.5"}, "size"),
        ({"width": 2000}, "width"),
        ({"height": 0}, "height"),
    ],
)
def test_bad_sizes_get_400_with_a_one_line_reason(
    base_url: str, params: dict[str, str | int], reason: str
) -> None:
    response = get(base_url, f"/monster/{MONSTER_ID}", **params)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.headers["Content-Type"].startswith("text/plain")
    assert reason in response.text
    assert response.text.count("\n") == 1


def test_id_longer_than_128_characters_gets_400(base_url: str) -> None:
    response = get(base_url, "/monster/" + "a" * 129)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "128" in response.text


@pytest.mark.parametrize("identifier", ["bad%20id", "semi;colon", "%C3%A9t%C3%A9", "a%2Fb", ""])
def test_ids_with_characters_outside_the_url_safe_set_get_400(
    base_url: str, identifier: str
) -> None:
    response = get(base_url, f"/monster/{identifier}")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("path", ["/", "/monster", "/monsters/abc", "/favicon.ico"])
def test_other_paths_get_404(base_url: str, path: str) -> None:
    response = get(base_url, path)
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.headers["Content-Type"].startswith("text/plain")


def test_post_gets_405_with_an_allow_header(base_url: str) -> None:
    response = requests.post(
        f"{base_url}/monster/{MONSTER_ID}", data=b"x", timeout=REQUEST_TIMEOUT_SECONDS
    )
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}


def test_health_check_answers_ok(base_url: str) -> None:
    response = get(base_url, "/healthz")
    assert response.status_code == HTTPStatus.OK
    assert response.text.strip() == "ok"
