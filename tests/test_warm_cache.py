"""`manage.py warm_cache`: sources, dedupe, skipping, failures, exit statuses.

Worker threads use their own database connections, so these tests commit for real
(`transaction=True`) and the database is flushed after each.
"""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.cache import caches
from django.core.management import CommandError, call_command
from django.db import connection
from PIL import Image

import renderer
from monsters.guards import cache
from monsters.images import identity, keys, service
from monsters.images.keys import Spec
from monsters.models import Generation
from monsters.warming import engine, inputs
from tests import per_run
from tests.cache_points import point_cache_at
from tests.ports import free_port
from tests.waiting import eventually

pytestmark = pytest.mark.django_db(transaction=True)

MOBY = identity.hash_name("Moby Dock")


def warm(*args: str, **options) -> tuple[str, str]:
    """Run the command; (stdout, stderr). Fails the test on a non-zero exit."""
    out, err = io.StringIO(), io.StringIO()
    call_command("warm_cache", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def warm_failing(*args: str, **options) -> tuple[int, str, str]:
    """Run a command that must exit non-zero; (exit status, stdout, stderr + message)."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("warm_cache", *args, stdout=out, stderr=err, **options)
    return failure.value.returncode, out.getvalue(), err.getvalue() + str(failure.value)


def cached_png(name_hash: str, size: int = 80) -> bytes | None:
    return caches["monsters"].get(keys.locate(name_hash=name_hash, size=size).key)


def generate(name_hash: str, size: int = 80) -> None:
    service.get_picture(keys.locate(name_hash=name_hash, size=size))


def recorded() -> list[tuple[str, int, str]]:
    return sorted(Generation.objects.values_list("name_hash", "size", "origin"))


def names_file(tmp_path, text: str | bytes):
    path = tmp_path / "names.txt"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return str(path)


# --- Sources ---------------------------------------------------------------------------


def test_names_given_as_arguments_are_cached_and_recorded_with_origin_warm(renderer_server):
    out, err = warm("Moby Dock", "Alice")
    alice = identity.hash_name("Alice")
    assert Image.open(io.BytesIO(cached_png(MOBY))).size == (80, 80)
    assert cached_png(alice) is not None
    assert recorded() == sorted([(MOBY, 80, "warm"), (alice, 80, "warm")])
    assert "warmed 2, already cached 0, invalid 0, failed 0 in " in out
    assert err == ""


def test_each_size_given_is_warmed(renderer_server):
    warm("Moby Dock", size=["64", "120"])
    assert Image.open(io.BytesIO(cached_png(MOBY, 64))).size == (64, 64)
    assert Image.open(io.BytesIO(cached_png(MOBY, 120))).size == (120, 120)
    assert cached_png(MOBY, 80) is None


def test_file_of_names_is_warmed_skipping_blank_lines_and_comments(renderer_server, tmp_path):
    path = names_file(tmp_path, "# launch list\nMoby Dock\n\n   \n  # indented comment\n Alice \n")
    out, _ = warm(file=path)
    assert renderer_server.count == 2
    assert {row[0] for row in recorded()} == {MOBY, identity.hash_name("Alice")}
    assert "warmed 2, already cached 0, invalid 0" in out


def test_names_are_read_from_stdin_with_file_dash(renderer_server):
    out, _ = warm(file="-", stdin=io.BytesIO(b"Moby Dock\nAlice\n"))
    assert cached_png(MOBY) is not None
    assert cached_png(identity.hash_name("Alice")) is not None
    assert "warmed 2," in out


def test_byte_order_mark_at_the_start_of_a_file_is_not_part_of_the_first_name(
    renderer_server, tmp_path
):
    warm(file=names_file(tmp_path, "\ufeffMoby Dock\n"))
    assert cached_png(MOBY) is not None


def test_audit_log_rebuilds_a_lost_cache_at_the_recorded_sizes(renderer_server):
    generate(MOBY, 64)
    generate(MOBY, 120)
    per_run.empty_monster_cache()  # Redis lost its contents
    renderer_server.requests.clear()
    out, _ = warm(from_audit_log=True)
    assert cached_png(MOBY, 64) is not None and cached_png(MOBY, 120) is not None
    assert renderer_server.count == 2
    assert Generation.objects.filter(origin="warm").count() == 2
    assert "warmed 2," in out


def test_audit_log_with_sizes_warms_every_recorded_hash_at_those_sizes(renderer_server):
    generate(MOBY, 64)
    generate(MOBY, 120)
    per_run.empty_monster_cache()
    warm(from_audit_log=True, size=["200"])
    assert cached_png(MOBY, 200) is not None
    assert cached_png(MOBY, 64) is None and cached_png(MOBY, 120) is None


def test_since_limits_the_audit_log_to_generations_from_that_day_on(renderer_server):
    old, new = identity.hash_name("old"), identity.hash_name("new")
    for identifier, day in ((old, 1), (new, 3)):
        Generation.objects.create(
            name_hash=identifier,
            size=80,
            source="dnmonster",
            origin="web",
            png_bytes=1,
            render_ms=1.0,
            created_at=datetime.datetime(2025, 5, day, 12, tzinfo=datetime.UTC),
        )
    warm(from_audit_log=True, since="2025-05-02")
    assert cached_png(new) is not None
    assert cached_png(old) is None


def test_names_file_and_audit_log_combine(renderer_server, tmp_path):
    from_log = identity.hash_name("from the log")
    generate(from_log, 64)
    per_run.empty_monster_cache()
    out, _ = warm("Moby Dock", file=names_file(tmp_path, "Alice\n"), from_audit_log=True)
    assert cached_png(MOBY) is not None
    assert cached_png(identity.hash_name("Alice")) is not None
    assert cached_png(from_log, 64) is not None
    assert "warmed 3," in out


def test_the_builtin_renderer_is_used_when_no_renderer_url_is_set():
    warm("Moby Dock")
    assert keys.current_revision() == f"builtin-r{renderer.RENDERER_VERSION}"
    assert cached_png(MOBY) == renderer.render(MOBY, 80)
    assert recorded() == [(MOBY, 80, "warm")]


# --- Dedupe and skipping ---------------------------------------------------------------


def test_a_name_listed_twice_is_warmed_once(renderer_server, tmp_path):
    out, _ = warm("Moby Dock", file=names_file(tmp_path, "Moby Dock\n  Moby Dock  \n"))
    assert renderer_server.count == 1
    assert recorded() == [(MOBY, 80, "warm")]
    assert "warmed 1, already cached 2," in out


class _Recorder:
    """An `engine.Reporter` that keeps everything it is told."""

    def __init__(self) -> None:
        self.invalid_items: list[inputs.Invalid] = []
        self.failures: list[tuple[Spec, str]] = []
        self.advanced = 0

    def invalid(self, item: inputs.Invalid) -> None:
        self.invalid_items.append(item)

    def failed(self, entry: Spec, reason: str) -> None:
        self.failures.append((entry, reason))

    def advance(self, entries: int) -> None:
        self.advanced += entries

    def interrupted(self, in_flight: int) -> None:
        raise AssertionError("not interrupted")


def test_duplicates_further_apart_than_a_batch_are_warmed_once(renderer_server):
    names = ["a", "b", "c", "a", "d", "b", "a", "c"]
    entries = [Spec(identity.hash_name(name), 80) for name in names]
    reporter = _Recorder()
    summary = engine.warm(
        entries, origin=Generation.Origin.WARM, reporter=reporter, concurrency=4, batch_size=2
    )
    assert renderer_server.count == 4
    assert (summary.warmed, summary.cached) == (4, 4)
    assert reporter.advanced == len(entries)


def test_no_duplicate_audit_rows_for_one_entry_within_a_run_at_concurrency_32(
    renderer_server, tmp_path
):
    # 40 names, each 15 times in a scattered order: 1,200 entries over 3 batches.
    lines = [f"name {(n * 7) % 40}" for n in range(600)]
    out, _ = warm(file=names_file(tmp_path, "\n".join(lines)), size=["64", "80"], concurrency=32)
    pairs = Generation.objects.values_list("name_hash", "size")
    assert pairs.count() == pairs.distinct().count() == 80
    assert renderer_server.count == 80
    assert "warmed 80, already cached 1,120," in out


def test_entries_already_cached_are_skipped_without_asking_the_renderer(renderer_server):
    generate(MOBY, 80)
    renderer_server.requests.clear()
    out, _ = warm("Moby Dock", "Alice")
    assert renderer_server.count == 1
    assert Generation.objects.count() == 2  # Moby's first generation, then Alice
    assert "warmed 1, already cached 1," in out


def test_the_cache_is_checked_in_bulk_not_one_get_per_entry(renderer_server, monkeypatch):
    for name in ("a", "b", "c"):
        generate(identity.hash_name(name), 80)
    bulk_checks, single_gets = [], []
    get_many, get_one = cache.get_many, cache.get
    monkeypatch.setattr(cache, "get_many", lambda keys: bulk_checks.append(keys) or get_many(keys))
    monkeypatch.setattr(cache, "get", lambda key: single_gets.append(key) or get_one(key))
    out, _ = warm("a", "b", "c", size=["80"])
    assert len(bulk_checks) == 1 and len(bulk_checks[0]) == 3
    assert single_gets == []
    assert "already cached 3," in out


def test_force_regenerates_cached_entries_and_records_them(renderer_server):
    generate(MOBY, 80)
    renderer_server.requests.clear()
    out, _ = warm("Moby Dock", force=True)
    assert renderer_server.count == 1
    assert [row[2] for row in recorded()] == sorted(["web", "warm"])
    assert "warmed 1, already cached 0," in out


def test_dry_run_counts_what_would_be_warmed_and_writes_nothing(renderer_server):
    generate(MOBY, 80)
    renderer_server.requests.clear()
    out, _ = warm("Moby Dock", "Alice", "Bob", dry_run=True)
    assert renderer_server.count == 0
    assert Generation.objects.count() == 1
    assert cached_png(identity.hash_name("Alice")) is None
    assert "dry run: would warm 2, already cached 1, invalid 0 in " in out


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
