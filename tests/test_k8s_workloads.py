"""The Kubernetes workloads: the web and renderer Deployments, their pods and scaling.

Every container of every workload runs hardened and sized, ours as the user its image
names; the web pods (at least two in base, three in prod, one in dev) write only to /tmp
and a memory-backed /dev/shm, are probed on /healthz and /readyz, scraped by the labelled
Prometheus only on their metrics port, wait for the migrations and drain before gunicorn
stops; the autoscaler scales the web Deployment on CPU and the disruption budget selects
its pods alone; the renderer runs its own image's command on the port the image binds,
probed by a tiny monster, with workers for its pod's CPU, and drains before it stops.
"""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
import yaml

from renderer.wsgi import app as renderer_app
from scripts import k8s_check
from tests import dockerfile, gunicorn_defaults, manifests
from tests.manifests import IMAGE_STAGES, OVERLAYS, POD_SHM, POD_TMP, WEB
from tests.wsgi_calls import call

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "deploy" / "k8s" / "base"
RENDERER = "dnmonster"  # the renderer's Deployment, Service and container, as in compose
IMAGE_USER = 10001  # the Dockerfile's USER


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Each overlay's objects, rendered once; a missing kubectl fails with the fix."""
    return manifests.render()


def _effective(pod_spec: dict, container: dict, key: str) -> Any:
    """A security setting as it applies: the container's own, else the pod's."""
    own = container.get("securityContext", {})
    return own[key] if key in own else pod_spec.get("securityContext", {}).get(key)


def _renderer(resources: list[dict]) -> tuple[dict, dict]:
    """The renderer Deployment's pod spec and its one container."""
    pod_spec = manifests.pod_template(manifests.one(resources, "Deployment", RENDERER))["spec"]
    (container,) = pod_spec["containers"]
    return pod_spec, container


def test_base_runs_at_least_two_web_pods():
    web = next(d for d in yaml.safe_load_all((BASE / "web.yaml").read_text()) if d)
    assert web["kind"] == "Deployment" and web["spec"]["replicas"] >= 2


def test_prod_runs_at_least_three_web_pods_and_dev_one(rendered):
    assert manifests.one(rendered["prod"], "Deployment", WEB)["spec"]["replicas"] >= 3
    assert manifests.one(rendered["dev"], "Deployment", WEB)["spec"]["replicas"] == 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_web_pods_run_hardened_as_the_images_user(rendered, overlay):
    pod_spec, _ = manifests.web(rendered[overlay])
    for container in manifests.containers(pod_spec):  # the init container too
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
    for workload in manifests.workloads(rendered[overlay]):
        pod_spec = manifests.pod_template(workload)["spec"]
        for container in manifests.containers(pod_spec):
            name = manifests.image_name(container["image"])
            if name not in IMAGE_STAGES:
                continue
            user, _, group = stages[IMAGE_STAGES[name]].instructions("USER")[-1].partition(":")
            assert _effective(pod_spec, container, "runAsUser") == int(user), container["name"]
            assert _effective(pod_spec, container, "runAsGroup") in {None, int(group)}
            ran.add(name)
    assert ran == set(IMAGE_STAGES)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_of_every_workload_is_hardened_and_sized(rendered, overlay):
    for workload in manifests.workloads(rendered[overlay]):
        pod_spec = manifests.pod_template(workload)["spec"]
        assert pod_spec["automountServiceAccountToken"] is False
        assert pod_spec["enableServiceLinks"] is False
        for container in manifests.containers(pod_spec):
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
    pod_spec, container = manifests.web(rendered[overlay])
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
    _, container = manifests.web(resources)
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    allowed_hosts = manifests.web_environment(resources)["ALLOWED_HOSTS"].split(",")
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
    resources = manifests.web(rendered[overlay])[1]["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_web_pods_are_scraped_by_prometheus_on_their_metrics_port(rendered, overlay):
    template = manifests.pod_template(manifests.one(rendered[overlay], "Deployment", WEB))
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    _, container = manifests.web(rendered[overlay])
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports["metrics"] == int(annotations["prometheus.io/port"]) == 9100


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_web_pods_wait_for_the_migrations_and_drain_before_gunicorn_stops(rendered, overlay):
    pod_spec, container = manifests.web(rendered[overlay])
    (init,) = pod_spec["initContainers"]
    assert init["command"] == ["python", "manage.py", "migrate", "--check", "--noinput"]
    assert init["image"] == container["image"]
    assert init["envFrom"] == container["envFrom"]
    pause = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    graceful = gunicorn_defaults.default("GUNICORN_GRACEFUL_TIMEOUT")
    assert pause + graceful < pod_spec["terminationGracePeriodSeconds"]


# --- Autoscaling and disruptions -------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_autoscaler_scales_the_web_deployment_on_cpu(rendered, overlay):
    resources = rendered[overlay]
    (hpa,) = manifests.objects(resources, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
    assert manifests.one(resources, "Deployment", target["name"]) is manifests.one(
        resources, "Deployment", WEB
    )
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"
    # Utilization is of the request, so the web container must have one.
    assert manifests.web(resources)[1]["resources"]["requests"]["cpu"]
    assert (
        hpa["spec"]["minReplicas"]
        <= manifests.one(resources, "Deployment", WEB)["spec"]["replicas"]
    )


def test_prod_autoscales_from_three_to_twelve_web_pods(rendered):
    (hpa,) = manifests.objects(rendered["prod"], "HorizontalPodAutoscaler")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_web_disruption_budget_selects_the_web_pods_and_only_them(rendered, overlay):
    resources = rendered[overlay]
    budget = manifests.one(resources, "PodDisruptionBudget", WEB)
    selected = [
        k8s_check.describe(workload)
        for workload in manifests.workloads(resources)
        if manifests.selects(
            budget["spec"]["selector"], manifests.pod_template(workload)["metadata"]["labels"]
        )
    ]
    assert selected == [f"Deployment/{WEB}"]
    # A budget that a single replica (dev) can still be drained with.
    assert budget["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_renderer_deployment_runs_the_renderer_image_and_its_own_command(rendered, overlay):
    _, container = _renderer(rendered[overlay])
    assert manifests.image_name(container["image"]) == "identidock-renderer"
    # No command or args: the image's CMD runs, gunicorn serving renderer.wsgi:app, the
    # same command as compose's dnmonster service (tests/test_compose_wiring.py).
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
    workers = int(manifests.environment(rendered[overlay], container)["WEB_CONCURRENCY"])
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


SCRAPER = {"identidock.io/metrics-scraper": "true"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_labelled_scraper_reaches_the_metrics_port(rendered, overlay):
    policy = manifests.one(rendered[overlay], "NetworkPolicy", "identidock")
    rules = policy["spec"]["ingress"]
    for_metrics = [r for r in rules if {"port": "metrics"} in r.get("ports", [])]
    assert len(for_metrics) == 1
    (rule,) = for_metrics
    # One peer with both selectors: a scraper pod in a scraper namespace, not either.
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": SCRAPER}, "podSelector": {"matchLabels": SCRAPER}}
    ]
    assert all(rule.get("from") for rule in rules), "no rule may admit every pod"
