"""The Kubernetes overlays rendered and read as the cluster would read them, for tests
that have no cluster: each overlay's objects (`kubectl kustomize`, through
scripts/k8s_check.py), the workloads and their pod templates and containers, the web
app's Deployment, and a container's environment as the kubelet builds it from its
ConfigMaps and Secrets."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from scripts import k8s_check

OVERLAYS = ("dev", "prod")
WEB = "identidock"  # the web app's Deployment, Service, HPA and PDB, and its container
# Our images by the name the manifests give them, and the Dockerfile stage each is built
# from (`docker build --target <stage>`).
IMAGE_STAGES = {"identidock": "web", "identidock-renderer": "renderer"}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job", "CronJob"}
# Paths inside the pods, not on this machine.
POD_TMP = "/tmp"  # noqa: S108
POD_SHM = "/dev/shm"  # noqa: S108


def render() -> dict[str, list[dict[str, Any]]]:
    """Each overlay's objects; a missing kubectl fails the test with the fix."""
    try:
        return {overlay: k8s_check.render(overlay) for overlay in OVERLAYS}
    except k8s_check.ManifestError as exc:
        reason = str(exc)
    pytest.fail(reason, pytrace=False)


def objects(resources: list[dict], kind: str) -> list[dict]:
    return [resource for resource in resources if resource["kind"] == kind]


def one(resources: list[dict], kind: str, name: str) -> dict:
    found = [r for r in objects(resources, kind) if r["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def pod_template(workload: dict) -> dict:
    if workload["kind"] == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]
    return workload["spec"]["template"]


def workloads(resources: list[dict]) -> Iterator[dict]:
    return (resource for resource in resources if resource["kind"] in WORKLOAD_KINDS)


def containers(pod_spec: dict) -> list[dict]:
    return pod_spec.get("initContainers", []) + pod_spec["containers"]


def container(pod_spec: dict, name: str) -> dict:
    return next(each for each in containers(pod_spec) if each["name"] == name)


def web(resources: list[dict]) -> tuple[dict, dict]:
    """The web Deployment's pod spec and its identidock container."""
    pod_spec = pod_template(one(resources, "Deployment", WEB))["spec"]
    return pod_spec, container(pod_spec, WEB)


def data(resources: list[dict], kind: str, name: str) -> dict[str, str]:
    source = one(resources, kind, name)
    if kind == "Secret":
        return {key: base64.b64decode(value).decode() for key, value in source["data"].items()}
    return dict(source.get("data", {}))


def environment(resources: list[dict], container: dict) -> dict[str, str]:
    """The container's environment as the kubelet builds it: envFrom, then env on top."""
    built: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            built |= data(resources, "ConfigMap", source["configMapRef"]["name"])
        if "secretRef" in source:
            built |= data(resources, "Secret", source["secretRef"]["name"])
    for entry in container.get("env", []):
        if "value" in entry:
            built[entry["name"]] = entry["value"]
        else:
            reference = entry["valueFrom"]["secretKeyRef"]
            built[entry["name"]] = data(resources, "Secret", reference["name"])[reference["key"]]
    return built


def web_environment(resources: list[dict]) -> dict[str, str]:
    return environment(resources, web(resources)[1])


def selects(selector: dict, labels: dict) -> bool:
    assert set(selector) == {"matchLabels"}, "only matchLabels selectors are used here"
    return selector["matchLabels"].items() <= labels.items()


def image_name(image: str) -> str:
    """`registry.example.com/identidock:1.0.0` -> `identidock`."""
    return image.rpartition("/")[2].partition(":")[0]
