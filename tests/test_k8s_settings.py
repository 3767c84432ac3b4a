"""The web app's settings in each Kubernetes overlay, against docker-compose.yml's.

The web app gets compose's setting names, the cache's address aside (dev names one Redis
by REDIS_URL, as compose does; prod reaches Redis through Sentinel), runs gunicorn with
DEBUG off, our renderer and as many workers as its pod is sized for; dev finds its Redis
and PostgreSQL, the ones compose runs, by their service names; prod's Secret holds
placeholders only, dev's says it is for development, and the salt is a secret in both
with no public default.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from renderer import RENDERER_VERSION
from tests import manifests
from tests.manifests import OVERLAYS

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"

# Documented differences between the web app's environment here and in compose. The
# cache's address is the one: dev names a single Redis by REDIS_URL, as compose does;
# prod reaches Redis through Sentinel, by REDIS_SENTINELS and REDIS_SENTINEL_SERVICE, and
# has no REDIS_URL. (Compose may name all three once the settings read the Sentinel
# pair, the unused ones empty; here each overlay names only what it uses.) Every other
# name is the same on both sides; nothing is k8s-only. The k8s-specific choices
# (GUNICORN_WORKERS, FORWARDED_ALLOW_IPS, LOG_FORMAT) are values of compose's names,
# explained in base/identidock.env.
CACHE_ADDRESS = {"REDIS_URL", "REDIS_SENTINELS", "REDIS_SENTINEL_SERVICE"}
CACHE_ADDRESS_BY_OVERLAY = {
    "dev": {"REDIS_URL"},
    "prod": {"REDIS_SENTINELS", "REDIS_SENTINEL_SERVICE"},
}


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Each overlay's objects, rendered once; a missing kubectl fails with the fix."""
    return manifests.render()


def _compose_web_setting_names() -> set[str]:
    return set(yaml.safe_load(COMPOSE.read_text())["services"]["identidock"]["environment"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_web_app_gets_the_same_settings_as_in_compose(rendered, overlay):
    here = set(manifests.web_environment(rendered[overlay]))
    compose = _compose_web_setting_names()
    assert here - CACHE_ADDRESS == compose - CACHE_ADDRESS, (
        f"only here: {sorted(here - compose)}; only in compose: {sorted(compose - here)}"
    )
    assert here & CACHE_ADDRESS == CACHE_ADDRESS_BY_OVERLAY[overlay]


def test_prod_reaches_redis_through_sentinels_by_host_and_port(rendered):
    environment = manifests.web_environment(rendered["prod"])
    sentinels = environment["REDIS_SENTINELS"].split(",")
    assert len(sentinels) >= 3  # a quorum that survives the loss of one
    for sentinel in sentinels:
        assert re.fullmatch(r"[a-z0-9.-]+:\d+", sentinel), sentinel
    assert environment["REDIS_SENTINEL_SERVICE"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_web_app_runs_gunicorn_with_debug_off_and_our_renderer(rendered, overlay):
    resources = rendered[overlay]
    environment = manifests.web_environment(resources)
    assert environment["ENV"] == "PROD"
    assert environment["DEBUG"] == "false"
    assert environment["DNMONSTER_REVISION"] == f"identidock-r{RENDERER_VERSION}"
    renderer = urlsplit(environment["DNMONSTER_URL"])
    service = manifests.one(resources, "Service", renderer.hostname)
    assert renderer.port in {port["port"] for port in service["spec"]["ports"]}
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "renderer"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_web_app_runs_as_many_workers_as_its_pod_is_sized_for(rendered, overlay):
    # gunicorn.conf.py would count the node's CPUs, not the pod's.
    assert manifests.web_environment(rendered[overlay])["GUNICORN_WORKERS"] == "2"


def test_dev_finds_its_redis_and_postgres_by_their_service_names(rendered):
    resources = rendered["dev"]
    environment = manifests.web_environment(resources)
    redis = urlsplit(environment["REDIS_URL"])
    assert (redis.scheme, redis.hostname, redis.port) == ("redis", "redis", 6379)
    database = urlsplit(environment["DATABASE_URL"])
    assert (database.scheme, database.hostname, database.port) == ("postgres", "postgres", 5432)
    postgres_pod = manifests.pod_template(manifests.one(resources, "StatefulSet", "postgres"))[
        "spec"
    ]
    postgres = manifests.environment(resources, manifests.container(postgres_pod, "postgres"))
    assert database.username == postgres["POSTGRES_USER"]
    assert database.password == postgres["POSTGRES_PASSWORD"]
    assert database.path == "/" + postgres["POSTGRES_DB"]


def test_dev_stores_are_the_ones_compose_runs(rendered):
    resources = rendered["dev"]
    compose = yaml.safe_load(COMPOSE.read_text())["services"]
    redis = manifests.container(
        manifests.pod_template(manifests.one(resources, "StatefulSet", "redis"))["spec"], "redis"
    )
    assert redis["args"] == compose["redis"]["command"]
    assert redis["image"].startswith(compose["redis"]["image"])
    postgres = manifests.one(resources, "StatefulSet", "postgres")
    assert postgres["spec"]["volumeClaimTemplates"][0]["spec"]["accessModes"] == ["ReadWriteOnce"]
    container = manifests.container(manifests.pod_template(postgres)["spec"], "postgres")
    assert container["image"].startswith(compose["postgres"]["image"])
    mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
    assert mounts["data"] == "/var/lib/postgresql/data"


def _web_secret(resources: list[dict]) -> dict[str, str]:
    (name,) = [
        s["secretRef"]["name"] for s in manifests.web(resources)[1]["envFrom"] if "secretRef" in s
    ]
    return manifests.data(resources, "Secret", name)


def test_prod_secret_holds_placeholders_only(rendered):
    secret = _web_secret(rendered["prod"])
    assert set(secret) == {"SECRET_KEY", "DATABASE_URL", "IDENTIDOCK_SALT"}
    assert all("CHANGE-ME" in value for value in secret.values())
    assert urlsplit(secret["DATABASE_URL"]).hostname.endswith(".invalid")


def test_dev_secret_says_it_is_for_development_only(rendered):
    secret = _web_secret(rendered["dev"])
    assert set(secret) == {"SECRET_KEY", "DATABASE_URL", "IDENTIDOCK_SALT"}
    assert "dev-only" in secret["SECRET_KEY"]
    assert "dev-only" in secret["IDENTIDOCK_SALT"]


def test_the_salt_is_a_secret_with_no_public_default(rendered):
    # The original app's salt is public: docker/cmd.sh's `check --deploy` refuses it.
    for overlay in OVERLAYS:
        resources = rendered[overlay]
        (config,) = [
            source["configMapRef"]["name"]
            for source in manifests.web(resources)[1]["envFrom"]
            if "configMapRef" in source
        ]
        assert "IDENTIDOCK_SALT" not in manifests.data(resources, "ConfigMap", config)
        assert manifests.web_environment(resources)["IDENTIDOCK_SALT"] != "UNIQUE_SALT"
