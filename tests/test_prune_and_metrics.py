"""prune_audit_log deletes old rows in batches; /metrics-style exposition counts what
happens and passes `promtool check metrics`; every answer carries a request id."""

from __future__ import annotations

import datetime
import io
import multiprocessing
import re
import shutil
import subprocess

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from monsters import metrics
from monsters.images import identity
from monsters.models import Generation
from monsters.web.request_context import route_of
from tests.wsgi_calls import call

pytestmark = pytest.mark.django_db

MOBY = identity.hash_name("Moby Dock")


def make_row(days_old: float) -> Generation:
    return Generation.objects.create(
        name_hash=MOBY,
        size=80,
        source="builtin",
        origin="web",
        png_bytes=1,
        render_ms=1.0,
        created_at=timezone.now() - datetime.timedelta(days=days_old),
    )


def test_prune_deletes_only_rows_older_than_the_cutoff_in_batches():
    old = [make_row(100 + n) for n in range(7)]
    young = [make_row(1), make_row(89)]
    out = io.StringIO()
    call_command("prune_audit_log", "--older-than", "90", "--batch-size", "3", stdout=out)
    assert "deleted 7 rows" in out.getvalue()
    assert set(Generation.objects.values_list("id", flat=True)) == {row.id for row in young}
    assert not Generation.objects.filter(id__in=[row.id for row in old]).exists()


def test_prune_dry_run_counts_and_deletes_nothing():
    make_row(200)
    out = io.StringIO()
    call_command("prune_audit_log", "--older-than", "30", "--dry-run", stdout=out)
    assert "would delete 1 rows" in out.getvalue()
    assert Generation.objects.count() == 1


@pytest.mark.parametrize(
    "args", [["--older-than", "0"], ["--older-than", "5", "--batch-size", "0"]]
)
def test_prune_refuses_nonsense(args):
    with pytest.raises(CommandError):
        call_command("prune_audit_log", *args, stdout=io.StringIO())


def sample(name: str, **labels: str) -> float:
    value = metrics.REGISTRY.get_sample_value(name, labels)
    return value or 0.0


@pytest.mark.django_db(transaction=True)  # the real WSGI handler closes connections
def test_a_miss_and_a_hit_are_counted_by_route_tier_and_result(client, renderer_server):
    before = {
        "requests": sample("identidock_http_requests_total", route="monster", status="200"),
        "redis_hit": sample("identidock_cache_lookups_total", tier="redis", result="hit"),
        "generations": sample("identidock_generations_total", origin="web"),
        "renders": sample("identidock_renderer_seconds_count"),
        "written": sample("identidock_audit_rows_total", outcome="written"),
    }
    from identidock.wsgi import application  # the whole stack, request context included

    for _ in range(2):
        status, headers, _ = call(application, f"/monster/{MOBY}")
        assert status == "200 OK"
        assert dict(headers)["X-Request-ID"]
    assert sample("identidock_http_requests_total", route="monster", status="200") == (
        before["requests"] + 2
    )
    assert sample("identidock_cache_lookups_total", tier="redis", result="hit") == (
        before["redis_hit"] + 1
    )
    assert sample("identidock_generations_total", origin="web") == before["generations"] + 1
    assert sample("identidock_renderer_seconds_count") == before["renders"] + 1
    assert sample("identidock_audit_rows_total", outcome="written") == before["written"] + 1


@pytest.mark.django_db(transaction=True)
def test_a_request_id_from_the_proxy_is_kept_and_a_missing_one_is_made():
    from identidock.wsgi import application

    _, headers, _ = call(application, "/healthz", X_Request_Id="abc-123")
    assert dict(headers)["X-Request-ID"] == "abc-123"
    made = [
        dict(call(application, "/healthz", X_Request_Id="bad id; with spaces")[1])["X-Request-ID"]
        for _ in range(3)
    ]
    assert all(re.fullmatch(r"[0-9a-f]{32}", request_id) for request_id in made)
    assert len(set(made)) == 3


def test_forked_workers_make_ids_of_their_own():
    """Gunicorn forks its workers from one process: each must draw its own ids."""
    from monsters.web.request_context import _new_id

    with multiprocessing.get_context("fork").Pool(2) as workers:
        ids = workers.map(_ids, [5, 5])
    ids.append([_new_id() for _ in range(5)])
    assert len({request_id for batch in ids for request_id in batch}) == 15


def _ids(count: int) -> list[str]:
    from monsters.web.request_context import _new_id

    return [_new_id() for _ in range(count)]


@pytest.mark.parametrize(
    ("path", "route"),
    [
        (f"/monster/{MOBY}", "monster"),
        ("/", "page"),
        ("/readyz", "probe"),
        ("/admin/monsters/generation/", "admin"),
        (f"/admin/monsters/generation/monster/{MOBY}", "staff-monster"),
        ("/static/monsters/identidock.css", "static"),
        ("/wp-login.php", "other"),
    ],
)
def test_routes_are_a_small_fixed_set_of_labels(path, route):
    assert route_of(path) == route


def test_the_exposition_passes_promtool(client, renderer_server):
    client.get(f"/monster/{MOBY}")
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: apt-get install -y prometheus"
    result = subprocess.run(
        [promtool, "check", "metrics"], input=metrics.exposition(), capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_empty_multiprocess_directory_setting_leaves_no_files_behind(tmp_path):
    # compose passes PROMETHEUS_MULTIPROC_DIR through empty to manage.py's processes.
    import os
    import subprocess
    import sys

    code = "import monsters.metrics as m; m.REQUESTS.labels('page', '200').inc()"
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": "", "PYTHONPATH": os.getcwd()}
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=environment, check=True)
    assert list(tmp_path.iterdir()) == []
