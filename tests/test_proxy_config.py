"""The proxy's nginx configuration, as the nginx image renders its template from compose.

The template is parsed into directives and checked against what the web app and gunicorn
expect: `nginx -t` accepts it (in front of one replica or several, a failed GET passed to
the next), every wait on a client is bounded, bodies the app accepts are kept in memory,
connections to gunicorn are kept alive and let go first, the client's address, scheme,
host and a request id are passed and a client's own forwarded headers cleared, only
images are cached (in a tmpfs above the cache's limit, as the app's Cache-Control says),
nginx's status stays on the loopback, and gunicorn believes forwarded headers from the
proxy's address only.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings

from scripts.stack import compose, proxy
from tests import compose_files, dev_tools, gunicorn_defaults

ROOT = Path(__file__).resolve().parent.parent
PROXY_TEMPLATES = ROOT / "docker" / "nginx" / "templates"
_NGINX_TOKEN = re.compile(r"""'[^']*'|"[^"]*"|[{};]|[^\s{};'"]+""")


@dataclass
class Directive:
    name: str
    args: list[str]
    block: list[Directive] = field(default_factory=list)


def _parse_nginx(text: str) -> list[Directive]:
    """nginx's configuration as directives and blocks (no string of ours holds a #)."""
    tokens = _NGINX_TOKEN.findall(re.sub(r"#[^\n]*", "", text))

    def block(position: int) -> tuple[list[Directive], int]:
        directives: list[Directive] = []
        words: list[str] = []
        while position < len(tokens):
            token, position = tokens[position], position + 1
            if token == ";":
                directives.append(Directive(words[0], words[1:]))
                words = []
            elif token == "{":
                children, position = block(position)
                directives.append(Directive(words[0], words[1:], children))
                words = []
            elif token == "}":
                return directives, position
            else:
                words.append(token.strip("'\""))
        return directives, position

    return block(0)[0]


def _one(directives: list[Directive], name: str) -> Directive:
    found = [directive for directive in directives if directive.name == name]
    assert len(found) == 1, f"{name}: {len(found)} times"
    return found[0]


def _seconds(value: str) -> float:
    time = re.fullmatch(r"(\d+)(ms|s|m)?", value)
    assert time, f"not an nginx time: {value}"
    return int(time[1]) * {"ms": 0.001, "s": 1, None: 1, "m": 60}[time[2]]


@pytest.fixture
def site() -> dict[str, list[Directive]]:
    """The template as the nginx image renders it with the compose service's variables:
    the upstream block, the public server block (the other one is nginx's status, on
    the loopback), what holds in its `location /` (the server's proxy settings, then the
    location's own) and in its image location, which keeps answers."""
    rendered = proxy.render(proxy.TEMPLATE.read_text(), compose_files.environment("proxy"))
    directives = _parse_nginx(rendered)
    (public,) = [
        d
        for d in directives
        if d.name == "server" and "default_server" in _one(d.block, "listen").args
    ]
    server = public.block
    shared = [d for d in server if d.name.startswith("proxy_")]
    (proxied,) = [d for d in server if d.name == "location" and d.args == ["/"]]
    (images,) = [d for d in server if d.name == "location" and d.args[0] == "~"]
    return {
        "http": directives,
        "upstream": _one(directives, "upstream").block,
        "server": server,
        "location": shared + proxied.block,
        "images": shared + images.block,
    }


def test_proxy_gets_the_shipped_template_where_the_nginx_image_renders_it():
    assert compose_files.service("proxy")["volumes"] == [
        "./docker/nginx/templates:/etc/nginx/templates:ro"
    ]
    assert sorted(path.name for path in PROXY_TEMPLATES.iterdir()) == ["default.conf.template"]
    assert proxy.TEMPLATE.parent == PROXY_TEMPLATES


def test_proxy_service_sets_every_variable_the_template_expects_and_no_other():
    template = proxy.TEMPLATE.read_text()
    environment = compose_files.environment("proxy")
    assert set(environment) == proxy.template_variables(template)
    assert environment["IDENTIDOCK_UPSTREAM"] == "identidock:5000"
    assert "${" not in proxy.render(template, environment)


def test_proxy_configuration_passes_nginx_t():
    # A prefix of its own for nginx's pid and temporary files: no root paths needed.
    prefix = Path(tempfile.mkdtemp(prefix="identidock-nginx-t-"))
    try:
        config = proxy.write_config(prefix, listen="127.0.0.1:5000", upstream="127.0.0.1:5001")
        result = dev_tools.run(*proxy.command(config, test=True))
    finally:
        shutil.rmtree(prefix)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_proxy_in_front_of_replicas_lists_each_one_and_passes_nginx_t():
    prefix = Path(tempfile.mkdtemp(prefix="identidock-nginx-t-"))
    replicas = ["127.0.0.1:5001", "127.0.0.1:5002", "127.0.0.1:5003"]
    try:
        config = proxy.write_config(prefix, listen="127.0.0.1:5000", upstream=replicas)
        result = dev_tools.run(*proxy.command(config, test=True))
        upstream = _one(_parse_nginx((prefix / "identidock.conf").read_text()), "upstream")
    finally:
        shutil.rmtree(prefix)
    assert result.returncode == 0, result.stderr
    servers = [directive.args for directive in upstream.block if directive.name == "server"]
    assert servers == [[replica, "max_fails=1", "fail_timeout=10s"] for replica in replicas]


def test_proxy_sends_a_get_that_a_replica_failed_to_the_next_one(site):
    location = {directive.name: directive.args for directive in site["location"]}
    assert location["proxy_next_upstream"] == ["error", "timeout", "http_502"]
    assert location["proxy_next_upstream_tries"] == ["3"]


def test_proxy_listens_where_compose_publishes(site):
    listen = _one(site["server"], "listen").args
    assert listen == ["80", "default_server"]
    assert compose_files.service("proxy")["ports"][0].endswith(":80")


def test_proxy_bounds_every_wait_on_a_client(site):
    server = {directive.name: directive.args for directive in site["server"]}
    assert _seconds(server["client_header_timeout"][0]) == 5
    assert _seconds(server["client_body_timeout"][0]) == 5
    assert _seconds(server["send_timeout"][0]) <= 10
    assert _seconds(server["keepalive_timeout"][0]) <= 15


def _bytes(value: str) -> int:
    size = re.fullmatch(r"(\d+)([kKmM])?", value)
    assert size, f"not an nginx size: {value}"
    return int(size[1]) * {None: 1, "k": 1024, "K": 1024, "m": 1 << 20, "M": 1 << 20}[size[2]]


def test_proxy_accepts_every_body_the_app_accepts_and_keeps_it_in_memory(site):
    server = {directive.name: directive.args for directive in site["server"]}
    limit = _bytes(server["client_max_body_size"][0])
    # No smaller than the app's own limit (REQUEST_BODY_MAX_BYTES's default), or a
    # request the app would take gets the proxy's 413; bounded, so a bigger body is
    # refused before it reaches gunicorn.
    assert 0 < settings.DATA_UPLOAD_MAX_MEMORY_SIZE <= limit
    # Whatever the proxy accepts fits its buffer: never spooled to a temporary file.
    assert _bytes(server["client_body_buffer_size"][0]) >= limit


def test_proxy_keeps_connections_to_gunicorn_alive_and_lets_them_go_first(site):
    upstream = {directive.name: directive.args for directive in site["upstream"]}
    assert upstream["server"] == ["identidock:5000", "max_fails=1", "fail_timeout=10s"]
    assert int(upstream["keepalive"][0]) > 0
    assert _seconds(upstream["keepalive_timeout"][0]) < gunicorn_defaults.default(
        "GUNICORN_KEEPALIVE"
    )
    location = site["location"]
    assert _one(location, "proxy_pass").args == ["http://identidock"]
    assert _one(location, "proxy_http_version").args == ["1.1"]
    headers = {d.args[0]: d.args[1] for d in location if d.name == "proxy_set_header"}
    assert headers["Connection"] == ""


def test_proxy_buffers_whole_requests_and_answers(site):
    location = {directive.name: directive.args for directive in site["location"]}
    assert location["proxy_buffering"] == ["on"]
    assert location["proxy_request_buffering"] == ["on"]


def test_proxy_waits_on_gunicorn_no_longer_than_gunicorn_lets_a_worker_be_silent(site):
    location = {directive.name: directive.args for directive in site["location"]}
    assert _seconds(location["proxy_connect_timeout"][0]) <= 5
    assert _seconds(location["proxy_send_timeout"][0]) <= 10
    assert _seconds(location["proxy_read_timeout"][0]) == gunicorn_defaults.default(
        "GUNICORN_TIMEOUT"
    )


def test_proxy_passes_the_client_address_scheme_host_and_a_request_id(site):
    headers = {d.args[0]: d.args[1] for d in site["location"] if d.name == "proxy_set_header"}
    assert headers == {
        "Connection": "",
        "Host": "$http_host",
        "X-Real-IP": "$remote_addr",
        "X-Forwarded-For": "$remote_addr",
        "X-Forwarded-Proto": "$scheme",
        "X-Request-ID": "$request_id",
        # Cleared: a client's own claims never reach gunicorn.
        **dict.fromkeys(
            ["X-Forwarded-Ssl", "X-Forwarded-Protocol", "X-Forwarded-Scheme", "X-Forwarded-Host"]
            + ["X-Forwarded-Port", "X-Forwarded-Prefix", "Forwarded", "X-Url-Scheme"],
            "",
        ),
    }
    assert _one(site["location"], "add_header").args == ["X-Request-ID", "$request_id", "always"]


def test_proxy_keeps_images_only_as_the_app_says_and_nothing_else(site):
    images = {directive.name: directive.args for directive in site["images"]}
    assert images["proxy_cache"] == ["identidock_images"]
    # The app's Cache-Control decides how long; no fallback that would keep an answer
    # the app did not mark (tests/test_proxy_cache_rules.py shows what is kept).
    assert "proxy_cache_valid" not in images
    assert "$request_uri" in images["proxy_cache_key"][0]  # v, size and the rest
    assert images["proxy_cache_lock"] == ["on"]
    assert images["proxy_cache_revalidate"] == ["on"]
    assert "proxy_ignore_headers" not in images  # Set-Cookie, private, no-store: obeyed
    # Every other answer, /admin/ and the pages, is never looked up nor kept.
    assert not any(d.name.startswith("proxy_cache") for d in site["location"])
    (images_location,) = [d for d in site["server"] if d.name == "location" and d.args[0] == "~"]
    assert images_location.args == ["~", "^/(monster|avatar)/"]


def test_proxy_cache_lives_in_a_tmpfs_sized_above_its_limit():
    environment = compose_files.environment("proxy")
    cache_path = environment["PROXY_CACHE_PATH"]
    (tmpfs,) = compose_files.service("proxy")["tmpfs"]
    target, _, options = compose.interpolate(tmpfs, {}).partition(":")
    assert target == cache_path
    size = dict(option.partition("=")[::2] for option in options.split(","))["size"]
    assert _bytes(size) > _bytes(environment["PROXY_CACHE_SIZE"])
    assert "proxy_cache_path" in proxy.render(proxy.TEMPLATE.read_text(), environment)


def test_proxy_status_is_on_the_containers_loopback_only(site):
    servers = [d.block for d in site["http"] if d.name == "server"]
    (status,) = [s for s in servers if "default_server" not in _one(s, "listen").args]
    assert _one(status, "listen").args[0].startswith("127.0.0.1:")
    locations = {tuple(d.args): d.block for d in status if d.name == "location"}
    assert _one(locations[("=", "/nginx_status")], "stub_status").args == []


def test_gunicorn_believes_forwarded_headers_from_the_proxys_address_only():
    front = compose_files.load()["networks"]["front"]["ipam"]["config"][0]
    proxy_address = ipaddress.ip_address(
        compose_files.service("proxy")["networks"]["front"]["ipv4_address"]
    )
    assert proxy_address in ipaddress.ip_network(front["subnet"])
    # Docker hands out addresses from ip_range only, so no other container gets it.
    assert proxy_address not in ipaddress.ip_network(front["ip_range"])
    assert compose_files.environment("identidock")["FORWARDED_ALLOW_IPS"] == str(proxy_address)
    assert set(compose_files.service("proxy")["networks"]) == {"front"}


def test_proxy_starts_once_the_web_app_is_healthy():
    assert compose_files.service("proxy")["depends_on"] == {
        "identidock": {"condition": "service_healthy"}
    }
