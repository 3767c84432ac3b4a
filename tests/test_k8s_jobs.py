"""The Kubernetes Jobs: the migration and the schedules, in the web app's image.

Every Job and CronJob that runs the web app's image gets the web app's settings, and the
ones the manifests need are there: the migration Job migrates without a statement
timeout, never restarting; the CronJobs prune the audit log once a day and flush it
every five minutes, one at a time; and every `manage.py` command a workload runs exists
and takes its arguments.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.management import get_commands, load_command_class

from scripts import k8s_check
from tests import manifests
from tests.manifests import OVERLAYS

# The Jobs the manifests need, each running manage.py in the web app's image.
NEEDED_JOBS = {
    "Job/identidock-migrate",
    "CronJob/identidock-prune-audit-log",
    "CronJob/identidock-flush-audit",
}


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Each overlay's objects, rendered once; a missing kubectl fails with the fix."""
    return manifests.render()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_jobs_get_the_web_apps_settings(rendered, overlay):
    resources = rendered[overlay]
    _, web = manifests.web(resources)
    jobs = manifests.objects(resources, "Job") + manifests.objects(resources, "CronJob")
    in_the_web_image = set()
    for job in jobs:
        for container in manifests.pod_template(job)["spec"]["containers"]:
            # A Job of another image (a backup, say) needs none of the web app's settings.
            if container["image"] == web["image"]:
                assert container["envFrom"] == web["envFrom"], k8s_check.describe(job)
                in_the_web_image.add(k8s_check.describe(job))
    assert in_the_web_image >= NEEDED_JOBS


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_migration_job_migrates_without_a_statement_timeout(rendered, overlay):
    resources = rendered[overlay]
    job = manifests.one(resources, "Job", "identidock-migrate")
    (container,) = manifests.pod_template(job)["spec"]["containers"]
    assert container["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert container["image"] == manifests.web(resources)[1]["image"]
    assert manifests.environment(resources, container)["DATABASE_STATEMENT_TIMEOUT_MS"] == "0"
    assert manifests.pod_template(job)["spec"]["restartPolicy"] == "Never"


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
    cronjob = manifests.one(resources, "CronJob", name)
    assert re.fullmatch(schedule, cronjob["spec"]["schedule"])
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = manifests.pod_template(cronjob)["spec"]["containers"]
    assert container["command"] == command
    assert container["image"] == manifests.web(resources)[1]["image"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_manage_py_command_in_the_manifests_exists_and_takes_its_arguments(rendered, overlay):
    commands = get_commands()
    ran = []
    for workload in manifests.workloads(rendered[overlay]):
        for container in manifests.containers(manifests.pod_template(workload)["spec"]):
            command = container.get("command", [])
            if command[:2] != ["python", "manage.py"]:
                continue
            name, *arguments = command[2:]
            assert name in commands, name
            parser = load_command_class(commands[name], name).create_parser("manage.py", name)
            parser.parse_args(arguments)  # CommandError on an unknown argument
            ran.append(name)
    assert {"flush_audit", "migrate", "prune_audit_log"} <= set(ran)  # the ones they need
