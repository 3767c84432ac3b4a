"""The Prometheus config, alerting rules and Grafana dashboard that ship with
Identidock, checked by Prometheus's own promtool and against the metrics the app
actually defines."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.registry import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "identidock-dashboard.json"
_METRIC = re.compile(r"\bidentidock_[a-z_]+")
_SUFFIXES = ("_bucket", "_count", "_sum", "_created")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: apt-get install -y prometheus"
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=120)


def defined_metric_names() -> set[str]:
    """Every metric the app defines, as queries name it (counters end in _total)."""
    return {
        family.name + ("_total" if family.type == "counter" else "")
        for family in REGISTRY.collect()
        if family.name.startswith("identidock_")
    }


@pytest.mark.parametrize(
    "args",
    [
        ("check", "config", str(PROMETHEUS / "prometheus.yml")),
        ("check", "rules", str(PROMETHEUS / "rules.yml")),
        ("test", "rules", str(PROMETHEUS / "rules_test.yml")),
    ],
    ids=["config", "rules", "rule tests"],
)
def test_promtool_accepts_the_prometheus_files(args):
    result = promtool(*args)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_and_dashboard_use_only_metrics_the_app_defines():
    known = defined_metric_names()
    text = (PROMETHEUS / "rules.yml").read_text() + DASHBOARD.read_text()
    used = {name for name in _METRIC.findall(text) if not name.endswith(":")}
    used = {next((n.removesuffix(s) for s in _SUFFIXES if n.endswith(s)), n) for n in used}
    assert used, "the files query no metric at all"
    assert used <= known, f"unknown metrics: {sorted(used - known)}"


def test_the_dashboard_is_grafana_json_with_a_query_per_panel():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "identidock"
    assert dashboard["panels"]
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        assert all(target["expr"] for target in panel["targets"])
