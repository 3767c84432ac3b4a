"""bench/static_nginx.py: the proxy bench's limit, nginx serving the image bytes as files at
the same /monster/<hash>?... URLs, with the shipped proxy's settings where they matter."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest
import requests

from bench import static_nginx

HASH = "ab" * 32
PATH = f"/monster/{HASH}?size=80&v=identidock-r1"
PNG = b"\x89PNG\r\n\x1a\n pretend"


def test_the_config_mirrors_the_shipped_proxys_settings_that_cost(tmp_path):
    config = static_nginx.write_config(tmp_path, listen="127.0.0.1:8123", root=tmp_path / "files")
    site = tmp_path / "static.conf"
    assert f"include {site};" in config.read_text()  # in make stack's own nginx.conf
    text = config.read_text() + site.read_text()
    assert "listen 127.0.0.1:8123 default_server;" in text
    assert re.search(r"^worker_processes auto;$", text, re.MULTILINE)
    assert "worker_connections 1024;" in text
    assert "keepalive_timeout 15s;" in text
    assert "sendfile" not in text  # left at nginx's default, as make stack's proxy does
    assert f"access_log {tmp_path}/static-nginx.access.log identidock;" in text
    assert f"root {tmp_path}/files;" in text
    assert "default_type image/png;" in text


def test_each_image_path_becomes_a_file_named_by_the_path_alone(tmp_path):
    static_nginx.lay_out(tmp_path, {PATH: PNG})
    assert (tmp_path / "monster" / HASH).read_bytes() == PNG
    with pytest.raises(ValueError):
        static_nginx.lay_out(tmp_path, {"/monster/../etc/passwd": PNG})
    with pytest.raises(ValueError):
        static_nginx.lay_out(tmp_path, {"/avatar/abc?s=80": PNG})


@pytest.fixture
def reachable_directory() -> Iterator[Path]:
    """A directory nginx's workers (`nobody` under root) can reach, as var/bench/ is: a
    pytest tmp_path is its owner's alone."""
    directory = Path(tempfile.mkdtemp(prefix="identidock-static-nginx-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_nginx_serves_the_bytes_as_a_png_whatever_the_query(reachable_directory):
    prefix = reachable_directory / "static"
    server = static_nginx.start(prefix, {PATH: PNG})
    try:
        with requests.Session() as session:
            answer = session.get(server.url + PATH, timeout=5)
            other_query = session.get(server.url + f"/monster/{HASH}?size=80&v=x", timeout=5)
            unknown = session.get(server.url + "/monster/" + "cd" * 32, timeout=5)
        assert answer.status_code == other_query.status_code == HTTPStatus.OK
        assert answer.content == other_query.content == PNG
        assert answer.headers["Content-Type"] == "image/png"
        assert unknown.status_code == HTTPStatus.NOT_FOUND
        assert server.workers()  # its CPU is counted with the bench's servers
        assert server.cpu_seconds() >= 0
        log = prefix / "static-nginx.access.log"
        assert log.read_text().count(f"/monster/{HASH}") == 2  # a line per request
    finally:
        server.stop()
    assert server.popen.poll() is not None
