"""The Kubernetes manifests, checked without a cluster: rendered, validated, wired.

Each overlay under deploy/k8s/overlays/ is rendered once with `kubectl kustomize`
(which reads files only) and every object is validated by kubernetes-validate against
the schemas it ships, for the pinned Kubernetes release (scripts/k8s_check.py, which
`make k8s-check` runs too). The rest reads the rendered objects: the web app gets the
settings docker-compose.yml gives it, runs hardened with its probes and resources, and
the autoscaler, disruption budget, proxy, renderer, migration and schedules are wired to
the right pods, each workload running the image (of the Dockerfile's two) built for it.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands, load_command_class

from renderer import RENDERER_VERSION
from renderer.wsgi import app as renderer_app
from scripts import k8s_check
from tests import dockerfile
from tests.wsgi_calls import call

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "deploy" / "k8s" / "base"
COMPOSE = ROOT / "docker-compose.yml"
OVERLAYS = ("dev", "prod")
WEB = "identidock"  # the web app's Deployment, Service, HPA and PDB, and its container
RENDERER = "dnmonster"  # the renderer's Deployment, Service and container, as in compose
IMAGE_USER = 10001  # the Dockerfile's USER
# Our images by the name the manifests give them, and the Dockerfile stage each is built
# from (`docker build --target <stage>`).
IMAGE_STAGES = {"identidock": "web", "identidock-renderer": "renderer"}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job", "CronJob"}
# Paths inside the pods, not on this machine.
POD_TMP = "/tmp"  # noqa: S108
POD_SHM = "/dev/shm"  # noqa: S108

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


# --- Reading the rendered objects ----------------------------------------------------


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Each overlay's objects, rendered once; a missing kubectl fails with the fix."""
    try:
        return {overlay: k8s_check.render(overlay) for overlay in OVERLAYS}
    except k8s_check.ManifestError as exc:
        reason = str(exc)
    pytest.fail(reason, pytrace=False)


def _objects(resources: list[dict], kind: str) -> list[dict]:
    return [resource for resource in resources if resource["kind"] == kind]


def _one(resources: list[dict], kind: str, name: str) -> dict:
    found = [r for r in _objects(resources, kind) if r["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def _pod_template(workload: dict) -> dict:
    if workload["kind"] == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]
    return workload["spec"]["template"]


def _workloads(resources: list[dict]) -> Iterator[dict]:
    return (resource for resource in resources if resource["kind"] in WORKLOAD_KINDS)


def _containers(pod_spec: dict) -> list[dict]:
    return pod_spec.get("initContainers", []) + pod_spec["containers"]


def _container(pod_spec: dict, name: str) -> dict:
    return next(container for container in _containers(pod_spec) if container["name"] == name)


def _web(resources: list[dict]) -> tuple[dict, dict]:
    """The web Deployment's pod spec and its identidock container."""
    pod_spec = _pod_template(_one(resources, "Deployment", WEB))["spec"]
    return pod_spec, _container(pod_spec, WEB)


def _data(resources: list[dict], kind: str, name: str) -> dict[str, str]:
    source = _one(resources, kind, name)
    if kind == "Secret":
        return {key: base64.b64decode(value).decode() for key, value in source["data"].items()}
    return dict(source.get("data", {}))


def _environment(resources: list[dict], container: dict) -> dict[str, str]:
    """The container's environment as the kubelet builds it: envFrom, then env on top."""
    environment: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            environment |= _data(resources, "ConfigMap", source["configMapRef"]["name"])
        if "secretRef" in source:
            environment |= _data(resources, "Secret", source["secretRef"]["name"])
    for entry in container.get("env", []):
        if "value" in entry:
            environment[entry["name"]] = entry["value"]
        else:
            reference = entry["valueFrom"]["secretKeyRef"]
            environment[entry["name"]] = _data(resources, "Secret", reference["name"])[
                reference["key"]
            ]
    return environment


def _web_environment(resources: list[dict]) -> dict[str, str]:
    return _environment(resources, _web(resources)[1])


def _selects(selector: dict, labels: dict) -> bool:
    assert set(selector) == {"matchLabels"}, "only matchLabels selectors are used here"
    return selector["matchLabels"].items() <= labels.items()


def _compose_web_setting_names() -> set[str]:
    return set(yaml.safe_load(COMPOSE.read_text())["services"]["identidock"]["environment"])


def _effective(pod_spec: dict, container: dict, key: str) -> Any:
    """A security setting as it applies: the container's own, else the pod's."""
    own = container.get("securityContext", {})
    return own[key] if key in own else pod_spec.get("securityContext", {}).get(key)


def _image_name(image: str) -> str:
    """`registry.example.com/identidock:1.0.0` -> `identidock`."""
    return image.rpartition("/")[2].partition(":")[0]


def _renderer(resources: list[dict]) -> tuple[dict, dict]:
    """The renderer Deployment's pod spec and its one container."""
    pod_spec = _pod_template(_one(resources, "Deployment", RENDERER))["spec"]
    (container,) = pod_spec["containers"]
    return pod_spec, container


def _default(name: str, path: Path) -> int:
    found = re.search(rf'"{name}", (\d+)', path.read_text())
    assert found, f"{name} has no default in {path.name}"
    return int(found[1])


# --- Rendering and validation ----------------------------------------------------------


def test_the_overlays_are_dev_and_prod():
    assert k8s_check.overlays() == sorted(OVERLAYS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_the_whole_topology(rendered, overlay):
    kinds = {resource["kind"] for resource in rendered[overlay]}
    assert {
        "Namespace",
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "Job",
        "CronJob",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    } <= kinds
    deployments = {d["metadata"]["name"] for d in _objects(rendered[overlay], "Deployment")}
    assert deployments == {"identidock", "dnmonster", "proxy"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_is_valid_for_the_pinned_kubernetes_release(rendered, overlay):
    problems = {
        k8s_check.describe(resource): why
        for resource in rendered[overlay]
        if (why := k8s_check.problem(resource)) is not None
    }
    assert not problems


def test_validation_is_strict_and_knows_every_kind():
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "typo"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i", "livenessprobe": {}}]},
            },
        },
    }
    assert "livenessprobe" in k8s_check.problem(deployment)
    unknown = {"apiVersion": "apps/v1", "kind": "Deploymnet", "metadata": {"name": "x"}}
    assert "Couldn't find schema" in k8s_check.problem(unknown)


def test_kubernetes_validate_is_pinned_with_the_development_tools():
    pins = (ROOT / "requirements" / "dev.txt").read_text()
    assert re.search(r"^kubernetes-validate==[\d.]+$", pins, re.MULTILINE)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_settings_reference_is_to_an_object_that_is_rendered(rendered, overlay):
    resources = rendered[overlay]
    names = {(r["kind"], r["metadata"]["name"]) for r in resources}
    for workload in _workloads(resources):
        pod_spec = _pod_template(workload)["spec"]
        for container in _containers(pod_spec):
            for source in container.get("envFrom", []):
                for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    if key in source:
                        assert (kind, source[key]["name"]) in names
            _environment(resources, container)  # every secretKeyRef resolves
        for volume in pod_spec.get("volumes", []):
            if "configMap" in volume:
                assert ("ConfigMap", volume["configMap"]["name"]) in names


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_selects_the_pods_of_one_workload_and_a_port_they_name(rendered, overlay):
    resources = rendered[overlay]
    for service in _objects(resources, "Service"):
        selector = {"matchLabels": service["spec"]["selector"]}
        templates = [
            _pod_template(w)
            for w in _workloads(resources)
            if w["kind"] in {"Deployment", "StatefulSet"}
            and _selects(selector, _pod_template(w)["metadata"]["labels"])
        ]
        assert len(templates) == 1, service["metadata"]["name"]
        ports = {
            port["name"]
            for container in templates[0]["spec"]["containers"]
            for port in container.get("ports", [])
        }
        assert {port["targetPort"] for port in service["spec"]["ports"]} <= ports


# --- The same settings as docker-compose.yml ------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_web_app_gets_the_same_settings_as_in_compose(rendered, overlay):
    here = set(_web_environment(rendered[overlay]))
    compose = _compose_web_setting_names()
    assert here - CACHE_ADDRESS == compose - CACHE_ADDRESS, (
        f"only here: {sorted(here - compose)}; only in compose: {sorted(compose - here)}"
    )
    assert here & CACHE_ADDRESS == CACHE_ADDRESS_BY_OVERLAY[overlay]


def test_prod_reaches_redis_through_sentinels_by_host_and_port(rendered):
    environment = _web_environment(rendered["prod"])
    sentinels = environment["REDIS_SENTINELS"].split(",")
    assert len(sentinels) >= 3  # a quorum that survives the loss of one
    for sentinel in sentinels:
        assert re.fullmatch(r"[a-z0-9.-]+:\d+", sentinel), sentinel
    assert environment["REDIS_SENTINEL_SERVICE"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_web_app_runs_gunicorn_with_debug_off_and_our_renderer(rendered, overlay):
    resources = rendered[overlay]
    environment = _web_environment(resources)
    assert environment["ENV"] == "PROD"
    assert environment["DEBUG"] == "false"
    assert environment["DNMONSTER_REVISION"] == f"identidock-r{RENDERER_VERSION}"
    renderer = urlsplit(environment["DNMONSTER_URL"])
    service = _one(resources, "Service", renderer.hostname)
    assert renderer.port in {port["port"] for port in service["spec"]["ports"]}
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "renderer"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_web_app_runs_as_many_workers_as_its_pod_is_sized_for(rendered, overlay):
    # gunicorn.conf.py would count the node's CPUs, not the pod's.
    assert _web_environment(rendered[overlay])["GUNICORN_WORKERS"] == "2"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_jobs_get_the_web_apps_settings(rendered, overlay):
    resources = rendered[overlay]
    web_sources = _web(resources)[1]["envFrom"]
    jobs = _objects(resources, "Job") + _objects(resources, "CronJob")
    assert len(jobs) == 3
    for job in jobs:
        for container in _pod_template(job)["spec"]["containers"]:
            assert container["envFrom"] == web_sources


def test_dev_finds_its_redis_and_postgres_by_their_service_names(rendered):
    resources = rendered["dev"]
    environment = _web_environment(resources)
    redis = urlsplit(environment["REDIS_URL"])
    assert (redis.scheme, redis.hostname, redis.port) == ("redis", "redis", 6379)
    database = urlsplit(environment["DATABASE_URL"])
    assert (database.scheme, database.hostname, database.port) == ("postgres", "postgres", 5432)
    postgres_pod = _pod_template(_one(resources, "StatefulSet", "postgres"))["spec"]
    postgres = _environment(resources, _container(postgres_pod, "postgres"))
    assert database.username == postgres["POSTGRES_USER"]
    assert database.password == postgres["POSTGRES_PASSWORD"]
    assert database.path == "/" + postgres["POSTGRES_DB"]


# --- The web Deployment ----------------------------------------------------------------


def test_base_runs_at_least_two_web_pods():
    web = next(d for d in yaml.safe_load_all((BASE / "web.yaml").read_text()) if d)
    assert web["kind"] == "Deployment" and web["spec"]["replicas"] >= 2


def test_prod_runs_at_least_three_web_pods_and_dev_one(rendered):
    assert _one(rendered["prod"], "Deployment", WEB)["spec"]["replicas"] >= 3
    assert _one(rendered["dev"], "Deployment", WEB)["spec"]["replicas"] == 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_web_pods_run_hardened_as_the_images_user(rendered, overlay):
    pod_spec, _ = _web(rendered[overlay])
    for container in _containers(pod_spec):  # the init container too
        assert _effective(pod_spec, container, "runAsNonRoot") is True
        assert _effective(pod_spec, container, "runAsUser") == IMAGE_USER
        assert _effective(pod_spec, container, "seccompProfile") == {"type": "RuntimeDefault"}
        own = container["securityContext"]
        assert own["readOnlyRootFilesystem"] is True
        assert own["allowPrivilegeEscalation"] is False
        assert own["capabilities"] == {"drop": ["ALL"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_of_ours_runs_as_the_user_its_image_names(rendered, overlay):
    stages = dockerfile.stages()
    ran = set()
    for workload in _workloads(rendered[overlay]):
        pod_spec = _pod_template(workload)["spec"]
        for container in _containers(pod_spec):
            name = _image_name(container["image"])
            if name not in IMAGE_STAGES:
                continue
            user, _, group = stages[IMAGE_STAGES[name]].instructions("USER")[-1].partition(":")
            assert _effective(pod_spec, container, "runAsUser") == int(user), container["name"]
            assert _effective(pod_spec, container, "runAsGroup") in {None, int(group)}
            ran.add(name)
    assert ran == set(IMAGE_STAGES)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_of_every_workload_is_hardened_and_sized(rendered, overlay):
    for workload in _workloads(rendered[overlay]):
        pod_spec = _pod_template(workload)["spec"]
        assert pod_spec["automountServiceAccountToken"] is False
        assert pod_spec["enableServiceLinks"] is False
        for container in _containers(pod_spec):
            where = f"{k8s_check.describe(workload)} {container['name']}"
            assert _effective(pod_spec, container, "runAsNonRoot") is True, where
            assert _effective(pod_spec, container, "seccompProfile") == {
                "type": "RuntimeDefault"
            }, where
            own = container["securityContext"]
            assert own["readOnlyRootFilesystem"] is True, where
            assert own["allowPrivilegeEscalation"] is False, where
            assert own["capabilities"] == {"drop": ["ALL"]}, where
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) == {"cpu", "memory"}, where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_web_pods_write_only_to_tmp_and_a_memory_backed_dev_shm(rendered, overlay):
    pod_spec, container = _web(rendered[overlay])
    volumes = {volume["name"]: volume for volume in pod_spec["volumes"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    assert set(mounts) == {POD_TMP, POD_SHM}
    assert "emptyDir" in volumes[mounts[POD_TMP]]
    assert volumes[mounts[POD_SHM]]["emptyDir"]["medium"] == "Memory"
    # gunicorn.conf.py puts its heartbeat files there when the directory exists.
    assert f'"{POD_SHM}"' in (ROOT / "gunicorn.conf.py").read_text()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_web_probes_liveness_healthz_readiness_readyz_and_startup(rendered, overlay):
    resources = rendered[overlay]
    _, container = _web(resources)
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    allowed_hosts = _web_environment(resources)["ALLOWED_HOSTS"].split(",")
    expected = {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    for probe, path in expected.items():
        check = container[probe]["httpGet"]
        assert check["path"] == path
        assert ports[check["port"]] == 5000
        # Django's host check: the probe names a host the site answers to.
        headers = {header["name"]: header["value"] for header in check["httpHeaders"]}
        assert headers["Host"] in allowed_hosts
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 30


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_web_pods_have_cpu_and_memory_requests_and_limits(rendered, overlay):
    resources = _web(rendered[overlay])[1]["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_web_pods_are_scraped_by_prometheus_on_their_metrics_port(rendered, overlay):
    template = _pod_template(_one(rendered[overlay], "Deployment", WEB))
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    _, container = _web(rendered[overlay])
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports["metrics"] == int(annotations["prometheus.io/port"]) == 9100


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_web_pods_wait_for_the_migrations_and_drain_before_gunicorn_stops(rendered, overlay):
    pod_spec, container = _web(rendered[overlay])
    (init,) = pod_spec["initContainers"]
    assert init["command"] == ["python", "manage.py", "migrate", "--check", "--noinput"]
    assert init["image"] == container["image"]
    assert init["envFrom"] == container["envFrom"]
    pause = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    graceful = _default("GUNICORN_GRACEFUL_TIMEOUT", ROOT / "gunicorn.conf.py")
    assert pause + graceful < pod_spec["terminationGracePeriodSeconds"]


# --- Autoscaling and disruptions -------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_autoscaler_scales_the_web_deployment_on_cpu(rendered, overlay):
    resources = rendered[overlay]
    (hpa,) = _objects(resources, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
    assert _one(resources, "Deployment", target["name"]) is _one(resources, "Deployment", WEB)
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"
    # Utilization is of the request, so the web container must have one.
    assert _web(resources)[1]["resources"]["requests"]["cpu"]
    assert hpa["spec"]["minReplicas"] <= _one(resources, "Deployment", WEB)["spec"]["replicas"]


def test_prod_autoscales_from_three_to_twelve_web_pods(rendered):
    (hpa,) = _objects(rendered["prod"], "HorizontalPodAutoscaler")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_web_disruption_budget_selects_the_web_pods_and_only_them(rendered, overlay):
    resources = rendered[overlay]
    budget = _one(resources, "PodDisruptionBudget", WEB)
    selected = [
        k8s_check.describe(workload)
        for workload in _workloads(resources)
        if _selects(budget["spec"]["selector"], _pod_template(workload)["metadata"]["labels"])
    ]
    assert selected == [f"Deployment/{WEB}"]
    # A budget that a single replica (dev) can still be drained with.
    assert budget["spec"]["maxUnavailable"] == 1


# --- The renderer and the proxy --------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_renderer_deployment_runs_the_renderer_image_and_its_own_command(rendered, overlay):
    _, container = _renderer(rendered[overlay])
    assert _image_name(container["image"]) == "identidock-renderer"
    # No command or args: the image's CMD runs, gunicorn serving renderer.wsgi:app, the
    # same command as compose's dnmonster service (tests/test_container_files.py).
    assert "command" not in container and "args" not in container
    assert dockerfile.stages()["renderer"].exec_form("CMD")[-1] == "renderer.wsgi:app"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_renderer_listens_where_its_image_binds_and_is_probed_by_a_tiny_monster(
    rendered, overlay
):
    _, container = _renderer(rendered[overlay])
    stage = dockerfile.stages()["renderer"]
    bind = dockerfile.gunicorn_option(stage.exec_form("CMD"), "--bind")
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert bind is not None and list(ports.values()) == [int(bind.rpartition(":")[2])]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        check = container[probe]["httpGet"]
        assert check["port"] in ports
        path, _, query = check["path"].partition("?")
        assert path.startswith("/monster/")  # proof that it draws, not only listens
        status, headers, _ = call(renderer_app, path, query)
        assert status.startswith(f"{HTTPStatus.OK.value} ")
        assert dict(headers)["Content-Type"] == "image/png"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_renderer_runs_as_many_workers_as_its_pod_is_sized_for(rendered, overlay):
    # WEB_CONCURRENCY is gunicorn's own default for --workers, which the image's
    # command leaves to it; the image's default need not suit this pod's CPU limit.
    _, container = _renderer(rendered[overlay])
    workers = int(_environment(rendered[overlay], container)["WEB_CONCURRENCY"])
    cpu = str(container["resources"]["limits"]["cpu"])
    cpus = int(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)
    assert 1 <= workers <= 2 * max(cpus, 1) + 1  # gunicorn's rule of thumb, for this pod


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_renderer_pods_drain_before_gunicorn_stops(rendered, overlay):
    pod_spec, container = _renderer(rendered[overlay])
    command = dockerfile.stages()["renderer"].exec_form("CMD")
    graceful = int(dockerfile.gunicorn_option(command, "--graceful-timeout") or 30)
    pause = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pause + graceful < pod_spec["terminationGracePeriodSeconds"]


def _nginx_conf(resources: list[dict]) -> str:
    pod_spec = _pod_template(_one(resources, "Deployment", "proxy"))["spec"]
    (volume,) = [v for v in pod_spec["volumes"] if "configMap" in v]
    return _data(resources, "ConfigMap", volume["configMap"]["name"])["nginx.conf"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_proxy_hands_requests_to_the_web_service_over_kept_alive_connections(rendered, overlay):
    resources = rendered[overlay]
    conf = _nginx_conf(resources)
    upstream = re.search(r"upstream identidock \{(.*?)\n    \}", conf, re.DOTALL)[1]
    host, port = re.search(r"^\s*server ([\w.-]+):(\d+);", upstream, re.MULTILINE).groups()
    service = _one(resources, "Service", host)
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
    pod_spec = _pod_template(_one(resources, "Deployment", "proxy"))["spec"]
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
    pod_spec = _pod_template(_one(resources, "Deployment", "proxy"))["spec"]
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
    service = _one(rendered["prod"], "Service", "proxy")
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["externalTrafficPolicy"] == "Local"
    others = [s for s in _objects(rendered["prod"], "Service") if s is not service]
    assert all(s["spec"].get("type", "ClusterIP") == "ClusterIP" for s in others)


# --- The migration and the schedules ---------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_migration_job_migrates_without_a_statement_timeout(rendered, overlay):
    resources = rendered[overlay]
    (job,) = _objects(resources, "Job")
    (container,) = _pod_template(job)["spec"]["containers"]
    assert container["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert container["image"] == _web(resources)[1]["image"]
    assert _environment(resources, container)["DATABASE_STATEMENT_TIMEOUT_MS"] == "0"
    assert _pod_template(job)["spec"]["restartPolicy"] == "Never"


@pytest.mark.parametrize(
    ("name", "schedule", "command"),
    [
        (
            "identidock-prune-audit-log",
            r"\d+ \d+ \* \* \*",  # once a day
            ["python", "manage.py", "prune_audit_log", "--older-than", "90"],
        ),
        ("identidock-flush-audit", r"\*/5 \* \* \* \*", ["python", "manage.py", "flush_audit"]),
    ],
)
def test_cronjobs_run_their_command_on_schedule_one_at_a_time(rendered, name, schedule, command):
    resources = rendered["prod"]
    cronjob = _one(resources, "CronJob", name)
    assert re.fullmatch(schedule, cronjob["spec"]["schedule"])
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = _pod_template(cronjob)["spec"]["containers"]
    assert container["command"] == command
    assert container["image"] == _web(resources)[1]["image"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_manage_py_command_in_the_manifests_exists_and_takes_its_arguments(rendered, overlay):
    commands = get_commands()
    ran = []
    for workload in _workloads(rendered[overlay]):
        for container in _containers(_pod_template(workload)["spec"]):
            command = container.get("command", [])
            if command[:2] != ["python", "manage.py"]:
                continue
            name, *arguments = command[2:]
            assert name in commands, name
            parser = load_command_class(commands[name], name).create_parser("manage.py", name)
            parser.parse_args(arguments)  # CommandError on an unknown argument
            ran.append(name)
    assert sorted(set(ran)) == ["flush_audit", "migrate", "prune_audit_log"]


# --- Images, secrets, dev's stores -----------------------------------------------------


def _images(resources: list[dict]) -> set[str]:
    return {
        container["image"]
        for workload in _workloads(resources)
        for container in _containers(_pod_template(workload)["spec"])
    }


def test_prod_runs_both_images_from_one_registry_pinned_to_the_projects_version(rendered):
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    ours = {image for image in _images(rendered["prod"]) if _image_name(image) in IMAGE_STAGES}
    assert {_image_name(image) for image in ours} == set(IMAGE_STAGES)
    assert all(image.endswith(f":{version}") for image in ours)
    assert len({image.rpartition("/")[0] for image in ours}) == 1  # one registry


def test_dev_runs_the_images_built_here(rendered):
    ours = {image for image in _images(rendered["dev"]) if _image_name(image) in IMAGE_STAGES}
    assert ours == {f"{name}:dev" for name in IMAGE_STAGES}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_other_images_are_pinned_to_versions(rendered, overlay):
    for image in _images(rendered[overlay]):
        if _image_name(image) in IMAGE_STAGES:
            continue
        name, _, tag = image.rpartition(":")
        assert name and re.fullmatch(r"\d+(\.\d+)+(-alpine)?", tag), image


def test_dev_stores_are_the_ones_compose_runs(rendered):
    resources = rendered["dev"]
    compose = yaml.safe_load(COMPOSE.read_text())["services"]
    redis = _container(_pod_template(_one(resources, "StatefulSet", "redis"))["spec"], "redis")
    assert redis["args"] == compose["redis"]["command"]
    assert redis["image"].startswith(compose["redis"]["image"])
    postgres = _one(resources, "StatefulSet", "postgres")
    assert postgres["spec"]["volumeClaimTemplates"][0]["spec"]["accessModes"] == ["ReadWriteOnce"]
    container = _container(_pod_template(postgres)["spec"], "postgres")
    assert container["image"].startswith(compose["postgres"]["image"])
    mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
    assert mounts["data"] == "/var/lib/postgresql/data"


def _web_secret(resources: list[dict]) -> dict[str, str]:
    (name,) = [s["secretRef"]["name"] for s in _web(resources)[1]["envFrom"] if "secretRef" in s]
    return _data(resources, "Secret", name)


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
            for source in _web(resources)[1]["envFrom"]
            if "configMapRef" in source
        ]
        assert "IDENTIDOCK_SALT" not in _data(resources, "ConfigMap", config)
        assert _web_environment(resources)["IDENTIDOCK_SALT"] != "UNIQUE_SALT"


SCRAPER = {"identidock.io/metrics-scraper": "true"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_labelled_scraper_reaches_the_metrics_port(rendered, overlay):
    policy = _one(rendered[overlay], "NetworkPolicy", "identidock")
    rules = policy["spec"]["ingress"]
    for_metrics = [r for r in rules if {"port": "metrics"} in r.get("ports", [])]
    assert len(for_metrics) == 1
    (rule,) = for_metrics
    # One peer with both selectors: a scraper pod in a scraper namespace, not either.
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": SCRAPER}, "podSelector": {"matchLabels": SCRAPER}}
    ]
    assert all(rule.get("from") for rule in rules), "no rule may admit every pod"
