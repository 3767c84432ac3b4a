"""What a client can make the log say: a Host outside ALLOWED_HOSTS is one short line a
minute per process, never a traceback; a HEAD answered by the front layer sends no
body, so gunicorn has nothing to warn about."""

from __future__ import annotations

import http.client
import logging
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest

from monsters.images import identity
from monsters.web.log_filters import RefusedHosts
from tests.gunicorn_server import gunicorn

DISALLOWED_HOST_LOGGER = "django.security.DisallowedHost"


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _refusal(host: str) -> logging.LogRecord:
    record = logging.LogRecord(
        DISALLOWED_HOST_LOGGER, logging.ERROR, __file__, 1, "Invalid HTTP_HOST header", (), None
    )
    record.request = type("Request", (), {"META": {"HTTP_HOST": host}})()
    try:
        raise ValueError("a traceback nobody needs")
    except ValueError as error:
        record.exc_info = (type(error), error, error.__traceback__)
    return record


def test_one_short_line_per_interval_with_a_count_of_the_rest():
    clock = _Clock()
    refused = RefusedHosts(interval=60, clock=clock)
    first = _refusal("evil.example")
    assert refused.filter(first)
    assert first.getMessage() == (
        "Refused a request for host 'evil.example', not in ALLOWED_HOSTS (400)"
    )
    assert first.levelname == "WARNING"
    assert first.exc_info is None
    assert not any(refused.filter(_refusal(f"h{n}.example")) for n in range(500))
    clock.now += 60
    later = _refusal("again.example")
    assert refused.filter(later)
    assert later.getMessage().endswith("; 500 more refused hosts in the last 60 s not logged")


def test_a_long_or_strange_host_is_cut_short_and_escaped():
    record = _refusal("\u202e" + "x" * 5000)
    assert RefusedHosts(clock=_Clock()).filter(record)
    message = record.getMessage()
    assert "\u202e" not in message and "\\u202e" in message
    assert len(message) < 200


@pytest.fixture
def fresh_refusal_filter() -> Iterator[None]:
    """The process's filter may have logged a refusal for an earlier test."""
    logger = logging.getLogger(DISALLOWED_HOST_LOGGER)
    shipped = list(logger.filters)
    assert any(isinstance(each, RefusedHosts) for each in shipped)  # LOGGING installs it
    logger.filters = [RefusedHosts(interval=60)]
    yield
    logger.filters = shipped


@pytest.mark.django_db
def test_django_logs_a_refused_host_once_without_a_traceback(client, caplog, fresh_refusal_filter):
    with caplog.at_level(logging.WARNING, logger=DISALLOWED_HOST_LOGGER):
        statuses = {client.get("/", HTTP_HOST=f"scan{n}.example").status_code for n in range(20)}
    assert statuses == {HTTPStatus.BAD_REQUEST}
    lines = [r for r in caplog.records if r.name == DISALLOWED_HOST_LOGGER]
    assert [r.getMessage() for r in lines] == [
        "Refused a request for host 'scan0.example', not in ALLOWED_HOSTS (400)"
    ]
    assert lines[0].exc_info is None


# --- Through gunicorn, as deployed -----------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    log = tmp_path_factory.mktemp("gunicorn-log") / "gunicorn.log"
    environment = {
        "SECRET_KEY": "log-flooding-only",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": "sqlite:///:memory:",
    }
    with gunicorn(environment, log=log) as address:
        yield address, log


def _request(address: str, method: str, path: str, host: str = "") -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(address, timeout=10)
    headers = {"Host": host} if host else {}
    connection.request(method, path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_gunicorn_logs_refused_hosts_in_one_short_line(served):
    address, log = served
    for n in range(10):
        assert _request(address, "GET", "/", host=f"flood{n}.example").status == 400
    text = log.read_text(errors="replace")
    assert text.count("Refused a request for host") == 1
    assert "Traceback" not in text
    assert "Invalid HTTP_HOST header" not in text


def test_heads_answered_in_front_of_django_send_no_body(served):
    address, log = served
    monster = f"/monster/{identity.hash_name('head check')}"
    assert _request(address, "GET", monster).status == HTTPStatus.OK  # now cached
    heads = [
        _request(address, "HEAD", monster).status,  # a hit, answered in front
        _request(address, "HEAD", monster + "?size=9999").status,  # a refusal, in front
        _request(address, "HEAD", "/healthz").status,  # through Django
        _request(address, "HEAD", "/nowhere").status,  # Django's 404
        _request(address, "HEAD", "/static/nothing.css").status,  # Django's 404
    ]
    assert (
        heads
        == [HTTPStatus.OK, HTTPStatus.BAD_REQUEST] + [HTTPStatus.OK] + [HTTPStatus.NOT_FOUND] * 2
    )
    text = log.read_text(errors="replace")
    assert "body" not in text.lower(), text
