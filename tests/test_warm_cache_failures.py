"""`manage.py warm_cache`: invalid input, failures, usage errors, exit statuses, and what
it prints.

Worker threads use their own database connections, so these tests commit for real
(`transaction=True`) and the database is flushed after each.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection

from monsters.models import Generation
from monsters.warming import inputs
from tests.cache_points import point_cache_at
from tests.ports import free_port
from tests.waiting import eventually
from tests.warm_runs import MOBY, cached_png, names_file, warm, warm_failing

pytestmark = pytest.mark.django_db(transaction=True)


# --- Invalid input ---------------------------------------------------------------------


def test_invalid_lines_are_reported_with_their_line_numbers_and_skipped(renderer_server, tmp_path):
    content = b"Moby Dock\n" + b"x" * 201 + b"\nbell\x07\n\xff\xfe broken\nAlice\n"
    out, err = warm(file=names_file(tmp_path, content))
    assert err.splitlines() == [
        "invalid line 2: A name can be at most 200 characters (this one has 201).",
        "invalid line 3: A name cannot contain control characters.",
        f"invalid line 4: not UTF-8, or longer than {inputs.MAX_LINE_BYTES} bytes",
    ]
    assert renderer_server.count == 2
    assert "warmed 2, already cached 0, invalid 3, failed 0" in out


def test_a_huge_line_is_skipped_without_stopping_the_file(renderer_server, tmp_path):
    content = b"y" * (10 * inputs.MAX_LINE_BYTES) + b"\nMoby Dock\n"
    out, err = warm(file=names_file(tmp_path, content))
    assert err.startswith("invalid line 1: ")
    assert cached_png(MOBY) is not None
    assert "warmed 1, already cached 0, invalid 1," in out


def test_an_invalid_name_argument_is_reported_by_its_position_never_by_its_text(
    renderer_server,
):
    out, err = warm("Moby Dock", "secret\x00name")
    assert err.strip() == "invalid argument 2: A name cannot contain control characters."
    assert "secret" not in err
    assert "invalid 1," in out


# --- Failures, usage errors, output ----------------------------------------------------


def test_renderer_failures_are_reported_with_the_hash_prefix_and_exit_with_status_1(
    bad_renderer,
):
    bad_renderer.mode = "error"
    status, out, err = warm_failing("Moby Dock", "Alice")
    assert status == 1
    assert f"failed {MOBY[:12]} @ 80px: renderer answered status 500" in err
    assert "2 generations failed" in err
    assert "warmed 0, already cached 0, invalid 0, failed 2" in out
    assert cached_png(MOBY) is None
    assert not Generation.objects.exists()


def test_a_renderer_that_is_plainly_down_stops_the_run_early_with_status_1(bad_renderer):
    bad_renderer.mode = "error"
    names = [f"guest {n}" for n in range(200)]
    status, out, err = warm_failing(*names, concurrency=2)
    assert status == 1
    assert bad_renderer.hits < 50  # not one refusal per name
    assert "stopped early: the renderer is down (renderer answered status 500)" in err
    assert out.strip().splitlines()[-1].startswith("stopped early, the renderer is down: warmed 0")
    assert not Generation.objects.exists()


def test_a_bad_image_now_and_then_does_not_stop_the_run(bad_renderer):
    bad_renderer.mode = "not-png"
    status, out, _ = warm_failing(*[f"guest {n}" for n in range(10)], concurrency=2)
    assert status == 1
    assert bad_renderer.hits == 10
    assert "failed 10" in out


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        ((), {}, "nothing to warm"),
        (("Moby",), {"size": ["9"]}, "--size 9: size must be from 16 to 512, not 9"),
        (("Moby",), {"size": ["big"]}, "--size big: size must be a whole number"),
        ((), {"file": "/nonexistent/names.txt"}, "cannot read /nonexistent/names.txt"),
        ((), {"file": "/"}, "cannot read /"),
        ((), {"from_audit_log": True, "since": "05/01/2025"}, "YYYY-MM-DD"),
        (("Moby",), {"since": "2025-05-01"}, "--since only applies to --from-audit-log"),
        (("Moby",), {"concurrency": 0}, "--concurrency must be from 1 to 64, not 0"),
        (("Moby",), {"concurrency": 65}, "--concurrency must be from 1 to 64, not 65"),
    ],
)
def test_usage_errors_exit_with_status_2_and_a_one_line_reason(
    renderer_server, args, options, message
):
    status, out, err = warm_failing(*args, **options)
    assert status == 2
    assert message in err
    assert "\n" not in err.strip()
    assert renderer_server.count == 0


def test_progress_is_a_line_per_10_percent_when_not_a_terminal(renderer_server):
    out, _ = warm(*[f"name {n}" for n in range(10)])
    lines = out.splitlines()
    assert lines[:10] == [f"{p}% ({p // 10} of 10 entries)" for p in range(10, 101, 10)]
    assert lines[10].startswith("warmed 10,")


class _Pipe(io.BytesIO):
    def seekable(self) -> bool:
        return False


def test_progress_without_a_known_total_is_a_line_per_10000_entries(renderer_server):
    names = b"".join(b"name %d\n" % n for n in range(25_000))
    out, _ = warm(file="-", stdin=_Pipe(names), dry_run=True)
    *progress, summary = out.splitlines()
    assert progress == ["10,000 entries done", "20,000 entries done"]
    assert summary.startswith("dry run: would warm 25,000,")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal(renderer_server):
    out = _Terminal()
    call_command("warm_cache", "Moby Dock", "Alice", stdout=out, stderr=io.StringIO())
    assert "2/2" in out.getvalue()
    assert "100%" in out.getvalue()


def test_verbosity_0_prints_only_errors(renderer_server):
    out, err = warm("Moby Dock", "bad\x07name", verbosity=0)
    assert out == ""
    assert err.strip() == "invalid argument 2: A name cannot contain control characters."
    assert cached_png(MOBY) is not None


def test_a_local_memory_cache_is_warned_about(settings):
    settings.CACHES = {
        **settings.CACHES,
        "monsters": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "KEY_FUNCTION": "monsters.guards.cache.make_key",
        },
    }
    _, err = warm("Moby Dock")
    assert "local memory" in err


def test_an_unreachable_cache_stops_the_command_before_any_work(renderer_server, settings):
    point_cache_at(settings, f"redis://127.0.0.1:{free_port()}/0")
    status, _, err = warm_failing("Moby Dock")
    assert status == 1
    assert "the monster cache (REDIS_URL) is unreachable" in err
    assert renderer_server.count == 0
    assert not Generation.objects.exists()


def _backends_on_test_database() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_worker_threads_close_their_database_connections(renderer_server):
    before = _backends_on_test_database()
    warm(*[f"name {n}" for n in range(20)], concurrency=8)
    # PostgreSQL counts a backend until it has seen the connection close.
    assert eventually(lambda: _backends_on_test_database() <= before, timeout=5)
    assert _backends_on_test_database() == before


def test_an_audit_log_size_outside_todays_range_is_reported_and_skipped(renderer_server):
    Generation.objects.create(
        name_hash=MOBY, size=1024, source="dnmonster", origin="web", png_bytes=1, render_ms=1.0
    )
    out, err = warm(from_audit_log=True)
    assert err.strip() == (
        f"invalid audit log entry {MOBY[:12]}: size must be from 16 to 512, not 1024"
    )
    assert renderer_server.count == 0
    assert "warmed 0, already cached 0, invalid 1," in out
