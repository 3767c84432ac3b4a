"""The Kubernetes overlays rendered and validated, and their references resolved.

Each overlay under deploy/k8s/overlays/ (dev and prod) is rendered once with `kubectl
kustomize` (which reads files only) into the whole topology, and every object is
validated by kubernetes-validate, pinned with the development tools, against the schemas
it ships for the pinned Kubernetes release, strictly (scripts/k8s_check.py, which `make
k8s-check` runs too); every ConfigMap and Secret a workload names is rendered, and every
Service selects the pods of one workload and a port they name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from scripts import k8s_check
from tests import manifests
from tests.manifests import OVERLAYS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Each overlay's objects, rendered once; a missing kubectl fails with the fix."""
    return manifests.render()


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
    deployments = {
        d["metadata"]["name"] for d in manifests.objects(rendered[overlay], "Deployment")
    }
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
    for workload in manifests.workloads(resources):
        pod_spec = manifests.pod_template(workload)["spec"]
        for container in manifests.containers(pod_spec):
            for source in container.get("envFrom", []):
                for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    if key in source:
                        assert (kind, source[key]["name"]) in names
            manifests.environment(resources, container)  # every secretKeyRef resolves
        for volume in pod_spec.get("volumes", []):
            if "configMap" in volume:
                assert ("ConfigMap", volume["configMap"]["name"]) in names


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_selects_the_pods_of_one_workload_and_a_port_they_name(rendered, overlay):
    resources = rendered[overlay]
    for service in manifests.objects(resources, "Service"):
        selector = {"matchLabels": service["spec"]["selector"]}
        templates = [
            manifests.pod_template(w)
            for w in manifests.workloads(resources)
            if w["kind"] in {"Deployment", "StatefulSet"}
            and manifests.selects(selector, manifests.pod_template(w)["metadata"]["labels"])
        ]
        assert len(templates) == 1, service["metadata"]["name"]
        ports = {
            port["name"]
            for container in templates[0]["spec"]["containers"]
            for port in container.get("ports", [])
        }
        assert {port["targetPort"] for port in service["spec"]["ports"]} <= ports
