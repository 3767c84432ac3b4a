"""How fast the audit-log admin answers at a million rows.

    .venv/bin/python bench/admin_bench.py [--rows 1000000] [--runs 7]

Uses its own PostgreSQL database (ADMIN_BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/identidock_admin_bench; created when missing) and
its own Redis database (ADMIN_BENCH_REDIS_URL, default db 11), never DATABASE_URL, so
it cannot touch a development or test database. Fills the audit log with synthetic
rows up to --rows (seed_audit_log), then requests each admin page --runs times with
Django's test client, logged in as a superuser, and prints the median and worst time
per page, the number of SQL queries, and the EXPLAIN lines of the page's slowest query
and its result query, which show the indexes at work. Timings are wall-clock for the
whole request (middleware, queries, template rendering); the machine's load shows in
them, so compare medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/identidock_admin_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/11"
KNOWN_NAME = "Moby Dock"


def _configure_environment() -> str:
    database_url = os.environ.get("ADMIN_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = os.environ.get("ADMIN_BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    os.environ["SECRET_KEY"] = "admin-bench-only"  # noqa: S105 - a throwaway for this script
    os.environ["DEBUG"] = "0"  # time what production runs
    os.environ.pop("DNMONSTER_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "identidock.settings"
    sys.path.insert(0, str(REPO_ROOT))
    return database_url


def _prepare_data(rows: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    from monsters.images import identity
    from monsters.models import Generation

    call_command("migrate", verbosity=0)
    present = Generation.objects.count()
    if present < rows:
        missing = rows - present
        print(f"Seeding {missing:,} rows (have {present:,}) ...", flush=True)
        started = time.perf_counter()
        call_command("seed_audit_log", rows=missing, force=True, verbosity=0)
        print(f"  seeded in {time.perf_counter() - started:.1f} s", flush=True)
    # One row a whole-hash search (find by name) can find, as if Moby Dock had visited.
    Generation.objects.get_or_create(
        name_hash=identity.hash_name(KNOWN_NAME),
        size=80,
        defaults={"source": "builtin", "origin": "web", "png_bytes": 650, "render_ms": 0.4},
    )
    with connection.cursor() as cursor:
        # Statistics and a visibility map, as autovacuum would leave a live table.
        cursor.execute(f"VACUUM ANALYZE {Generation._meta.db_table}")


def _superuser_client():
    from django.contrib.auth.models import User
    from django.test import Client

    user, _ = User.objects.get_or_create(
        username="admin-bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    return client


def _cases() -> list[tuple[str, str, dict[str, str]]]:
    import datetime

    from django.utils import timezone

    from monsters.images import identity
    from monsters.models import Generation

    newest = Generation.objects.order_by("-created_at").values_list("name_hash", flat=True)[1000]
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    changelist = "/admin/monsters/generation/"
    return [
        ("changelist", changelist, {}),
        ("changelist page 50", changelist, {"p": "50"}),
        ("filter origin=admin", changelist, {"origin__exact": "admin"}),
        ("filter admin + size 512", changelist, {"origin__exact": "admin", "size": "512"}),
        (
            "date drill-down: one day",
            changelist,
            {
                "created_at__year": str(yesterday.year),
                "created_at__month": str(yesterday.month),
                "created_at__day": str(yesterday.day),
            },
        ),
        ("prefix search (4 hex)", changelist, {"q": newest[:4]}),
        ("prefix search (1 hex)", changelist, {"q": newest[:1]}),
        # What find by name leads to: the rows of one whole hash.
        ("whole-hash search", changelist, {"q": identity.hash_name(KNOWN_NAME)}),
        ("detail page", f"{changelist}{_some_pk()}/change/", {}),
        ("overview page", f"{changelist}overview/", {}),
    ]


def _some_pk() -> int:
    from monsters.models import Generation

    return Generation.objects.order_by("-created_at").values_list("pk", flat=True)[500]


def _plan_lines(sql: str) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + sql)
        lines = [row[0] for row in cursor.fetchall()]
    wanted = ("Scan", "Index Cond", "Execution Time", "Sort Key", "Presorted")
    return [line.rstrip() for line in lines if any(word in line for word in wanted)]


def _measure(client, path: str, params: dict[str, str], runs: int):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(path, params)  # warm-up: connection, templates, buffers
    if response.status_code != 200:
        raise SystemExit(f"{path} {params} answered {response.status_code}")
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        client.get(path, params)
        timings.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as captured:
        client.get(path, params)
    queries = [q for q in captured.captured_queries if "generation" in q["sql"]]
    return timings, captured.captured_queries, queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="audit rows to have")
    parser.add_argument("--runs", type=int, default=7, help="timed requests per page")
    parser.add_argument("--no-plans", action="store_true", help="skip the EXPLAIN output")
    args = parser.parse_args()

    database_url = _configure_environment()
    from bench.databases import create_database_if_missing  # needs the repository on the path

    create_database_if_missing(database_url)

    # WhiteNoise warns that STATIC_ROOT was never collected; the bench serves no files.
    warnings.filterwarnings("ignore", message="No directory at")

    import django
    from django.test.utils import override_settings, setup_test_environment

    django.setup()
    setup_test_environment()  # lets the test client's host in
    # No collectstatic here: serve static URLs as in development.
    storages = override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    )
    storages.enable()

    from django.db import connection

    from monsters.models import Generation

    _prepare_data(args.rows)
    client = _superuser_client()
    total = Generation.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    print(
        f"\nAudit log: {total:,} rows in {connection.settings_dict['NAME']} "
        f"(PostgreSQL {version}); {args.runs} timed requests per page, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n"
    )
    header = f"{'page':<28}{'median ms':>10}{'max ms':>9}{'queries':>9}  slowest query"
    print(header)
    print("-" * len(header))
    plans = []
    for label, path, params in _cases():
        timings, all_queries, log_queries = _measure(client, path, params, args.runs)
        slowest = max(log_queries, key=lambda q: float(q["time"]))
        print(
            f"{label:<28}{statistics.median(timings):>10.1f}{max(timings):>9.1f}"
            f"{len(all_queries):>9}  {float(slowest['time']) * 1000:.1f} ms: "
            f"{' '.join(slowest['sql'].split())[:60]}"
        )
        result_query = next(
            (q for q in log_queries if q["sql"].startswith('SELECT "monsters_generation"."id"')),
            None,
        )
        plans.append((label, slowest, result_query))

    if args.no_plans:
        return
    print("\nEXPLAIN ANALYZE, scan lines of each page's slowest query and of its result query")
    for label, slowest, result_query in plans:
        print(f"\n[{label}]")
        shown = [slowest] + ([result_query] if result_query and result_query != slowest else [])
        for query in shown:
            print("  " + " ".join(query["sql"].split())[:150])
            for line in _plan_lines(query["sql"]):
                print("    " + line.strip())


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    from bench.results import recorded

    with recorded("admin_bench"):
        main()
