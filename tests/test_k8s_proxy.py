"""The proxy's Deployment, nginx.conf and Service in the Kubernetes overlays.

The proxy hands requests to the web Service over kept-alive connections, bounds its
clients (bodies no larger than the web app's own limit) and says who asked, listens
where its Service and container say, keeps images by compose's rules, word for word, in
a memory emptyDir above the cache's max_size and within the container's memory limit,
and `nginx -t` accepts its configuration; in prod its Service is the way in and keeps
the client's address.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests import manifests
from tests.manifests import OVERLAYS, POD_TMP

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Each overlay's objects, rendered once; a missing kubectl fails with the fix."""
    return manifests.render()


def _nginx_conf(resources: list[dict]) -> str:
    pod_spec = manifests.pod_template(manifests.one(resources, "Deployment", "proxy"))["spec"]
    (volume,) = [v for v in pod_spec["volumes"] if "configMap" in v]
    return manifests.data(resources, "ConfigMap", volume["configMap"]["name"])["nginx.conf"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_proxy_hands_requests_to_the_web_service_over_kept_alive_connections(rendered, overlay):
    resources = rendered[overlay]
    conf = _nginx_conf(resources)
    upstream = re.search(r"upstream identidock \{(.*?)\n    \}", conf, re.DOTALL)[1]
    host, port = re.search(r"^\s*server ([\w.-]+):(\d+);", upstream, re.MULTILINE).groups()
    service = manifests.one(resources, "Service", host)
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "web"
    assert int(port) in {p["port"] for p in service["spec"]["ports"]}
    assert re.search(r"^\s*keepalive \d+;", upstream, re.MULTILINE)
    assert "proxy_http_version 1.1;" in conf
    assert 'proxy_set_header Connection "";' in conf


def test_proxy_bounds_clients_and_says_who_asked(rendered):
    conf = _nginx_conf(rendered["prod"])
    for directive in (
        "client_header_timeout 5s;",
        "client_body_timeout 5s;",
        "client_max_body_size 16k;",
        "proxy_set_header X-Forwarded-For $remote_addr;",
        "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Request-ID $request_id;",
    ):
        assert directive in conf


def test_proxy_refuses_bodies_over_the_web_apps_own_limit(rendered):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # REQUEST_BODY_MAX_BYTES's default
    assert f"client_max_body_size {limit // 1024}k;" in _nginx_conf(rendered["prod"])


def test_proxy_listens_where_its_service_and_container_say(rendered):
    resources = rendered["prod"]
    pod_spec = manifests.pod_template(manifests.one(resources, "Deployment", "proxy"))["spec"]
    (container,) = pod_spec["containers"]
    (port,) = container["ports"]
    assert f"listen {port['containerPort']} default_server;" in _nginx_conf(resources)
    assert container["command"][:3] == ["nginx", "-c", "/etc/nginx/identidock/nginx.conf"]
    assert pod_spec["securityContext"]["runAsUser"] != 0


def _nginx() -> str:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if not nginx:
        pytest.fail("nginx is missing: install it with `apt-get install -y nginx`.", pytrace=False)
    return nginx


def test_nginx_accepts_the_proxy_configuration(rendered, tmp_path):
    # The Service's name resolves only in the cluster, and the temporary paths are the
    # pod's /tmp: point both at this machine for the syntax check.
    conf = _nginx_conf(rendered["prod"])
    conf = conf.replace("server identidock:5000;", "server 127.0.0.1:5000;")
    conf = conf.replace(f"{POD_TMP}/", f"{tmp_path}/")
    conf = conf.replace(PROXY_IMAGE_CACHE, f"{tmp_path}/image_cache")
    (tmp_path / "nginx.conf").write_text(conf)
    result = subprocess.run(
        [_nginx(), "-t", "-p", f"{tmp_path}/", "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


PROXY_IMAGE_CACHE = "/var/cache/nginx/identidock"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_proxy_keeps_images_in_a_memory_emptydir_sized_above_the_caches_limit(rendered, overlay):
    resources = rendered[overlay]
    conf = _nginx_conf(resources)
    cache_path = re.search(r"proxy_cache_path (\S+) .*?max_size=(\d+)m", conf, re.DOTALL)
    assert cache_path, "the proxy keeps no cache"
    assert cache_path[1] == PROXY_IMAGE_CACHE
    pod_spec = manifests.pod_template(manifests.one(resources, "Deployment", "proxy"))["spec"]
    (container,) = pod_spec["containers"]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == PROXY_IMAGE_CACHE]
    (volume,) = [v for v in pod_spec["volumes"] if v["name"] == mount["name"]]
    assert volume["emptyDir"]["medium"] == "Memory"
    size_limit = int(volume["emptyDir"]["sizeLimit"].removesuffix("Mi"))
    memory_limit = int(container["resources"]["limits"]["memory"].removesuffix("Mi"))
    assert int(cache_path[2]) < size_limit < memory_limit


def test_proxy_caches_images_only_with_the_same_rules_as_compose(rendered):
    conf = _nginx_conf(rendered["prod"])
    template = (ROOT / "docker" / "nginx" / "templates" / "default.conf.template").read_text()
    # The image location and the maps that decide what is kept, word for word.
    location = re.compile(r"location ~ \^/\(monster\|avatar\)/ \{.*?\n\s*\}", re.DOTALL)
    maps = re.compile(r"map \S+ \$identidock_(?!error)\w+ \{.*?\n\s*\}", re.DOTALL)

    def words(found: list[str]) -> list[str]:
        return [" ".join(re.sub(r"#[^\n]*", "", text).split()) for text in found]

    assert words(location.findall(conf)) == words(location.findall(template))
    assert words(maps.findall(conf)) == words(maps.findall(template))
    names = set(re.findall(r"map \S+ \$(identidock_\w+) \{", conf))
    assert {"identidock_not_200", "identidock_bypassed", "identidock_odd_image_path"} <= names
    assert "proxy_cache_valid " not in re.sub(r"#[^\n]*", "", conf)
    # nginx's counts on the pod's loopback only: nothing for a NetworkPolicy to open.
    assert re.search(r"listen 127\.0\.0\.1:\d+;\s*server_name _;\s*access_log off;", conf)
    assert "stub_status;" in conf


def test_prod_proxy_is_the_way_in_and_keeps_the_clients_address(rendered):
    service = manifests.one(rendered["prod"], "Service", "proxy")
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["externalTrafficPolicy"] == "Local"
    others = [s for s in manifests.objects(rendered["prod"], "Service") if s is not service]
    assert all(s["spec"].get("type", "ClusterIP") == "ClusterIP" for s in others)
