"""`make k8s-check`: render every overlay under deploy/k8s/ and validate what it gives.

Run as `.venv/bin/python -m scripts.k8s_check` from the checkout. Rendering is
`kubectl kustomize`, which reads files and contacts no cluster; validation is
kubernetes-validate against the JSON schemas it ships, strictly (a field the schema
does not know is an error), for one pinned Kubernetes release. Offline both ways.
tests/test_k8s_rendering.py checks through the same functions.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parent.parent
OVERLAYS = ROOT / "deploy" / "k8s" / "overlays"
# The release the manifests must be valid for: kubectl's own minor version here (a
# client works with servers one minor version either side of it).
KUBERNETES_VERSION = "1.32"
INSTALL_KUBECTL = "apt-get install -y kubectl"


class ManifestError(Exception):
    """An overlay that does not render, or a tool that is missing."""


def overlays() -> list[str]:
    """The overlays' names (the folders under deploy/k8s/overlays/), sorted."""
    return sorted(path.name for path in OVERLAYS.iterdir() if path.is_dir())


def render(overlay: str) -> list[dict[str, Any]]:
    """Every object `kubectl kustomize deploy/k8s/overlays/<overlay>` gives, in order."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise ManifestError(
            f"kubectl is missing: install it with `{INSTALL_KUBECTL}` "
            "(only its client is used: `kubectl kustomize` contacts no cluster)."
        )
    result = subprocess.run(
        [kubectl, "kustomize", str(OVERLAYS / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise ManifestError(f"kubectl kustomize {overlay} failed: {result.stderr.strip()}")
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def describe(resource: dict[str, Any]) -> str:
    return f"{resource.get('kind')}/{resource.get('metadata', {}).get('name')}"


def problem(resource: dict[str, Any]) -> str | None:
    """Why the object is not valid for KUBERNETES_VERSION (strictly), or None.

    kubernetes-validate's own command only warns when it has no schema for an object's
    kind (and exits 0): here that is a problem too, so a misspelt kind or apiVersion
    cannot pass unchecked.
    """
    try:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(part) for part in exc.path) or "(top)"
        return f"{where}: {exc.message}"
    except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as exc:
        return exc.message
    return None


def main() -> int:
    failed = False
    for overlay in overlays():
        try:
            resources = render(overlay)
        except ManifestError as exc:
            print(f"{overlay}: {exc}", file=sys.stderr)
            failed = True
            continue
        problems = [
            (describe(resource), why)
            for resource in resources
            if (why := problem(resource)) is not None
        ]
        for name, why in problems:
            print(f"{overlay}: {name}: {why}", file=sys.stderr)
        failed = failed or bool(problems)
        verdict = f"{len(problems)} invalid" if problems else "all valid"
        print(
            f"{overlay}: {len(resources)} objects rendered, {verdict} "
            f"(Kubernetes {KUBERNETES_VERSION}, strict)"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
