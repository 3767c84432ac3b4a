"""`manage.py warm_cache`: its sources (names, a file, stdin, the audit log), dedupe, and
skipping what is cached already.

Worker threads use their own database connections, so these tests commit for real
(`transaction=True`) and the database is flushed after each.
"""

from __future__ import annotations

import datetime
import io

import pytest
from PIL import Image

import renderer
from monsters.guards import cache
from monsters.images import identity, keys
from monsters.images.keys import Spec
from monsters.models import Generation
from monsters.warming import engine, inputs
from tests import per_run
from tests.warm_runs import MOBY, cached_png, generate, names_file, recorded, warm

pytestmark = pytest.mark.django_db(transaction=True)


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
