"""bench/results.py: each bench's figures go to one dated file a day."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bench.results import recorded, result_path, run_directory, text_report, write_result


def test_a_result_is_written_to_a_file_named_for_the_day_and_the_bench(tmp_path):
    path = write_result("hit_bench", "# hit\n\n| a | b |", day=date(2025, 3, 9), directory=tmp_path)
    assert path == tmp_path / "2025-03-09-hit_bench.md"
    assert path.read_text() == "# hit\n\n| a | b |\n"


def test_the_folder_is_created_when_missing(tmp_path):
    folder = tmp_path / "bench" / "results"
    path = write_result("page_bench", "figures", day=date(2025, 3, 9), directory=folder)
    assert path.parent == folder
    assert path.exists()


def test_a_second_run_the_same_day_replaces_the_days_file(tmp_path):
    day = date(2025, 3, 9)
    write_result("miss_bench", "first run", day=day, directory=tmp_path)
    write_result("miss_bench", "second run", day=day, directory=tmp_path)
    write_result("miss_bench", "next day", day=date(2025, 3, 10), directory=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "2025-03-09-miss_bench.md",
        "2025-03-10-miss_bench.md",
    ]
    assert (tmp_path / "2025-03-09-miss_bench.md").read_text() == "second run\n"


def test_the_day_is_todays_date_in_utc(tmp_path):
    path = write_result("hit_bench", "figures", directory=tmp_path)
    assert path.name == f"{datetime.now(UTC).date().isoformat()}-hit_bench.md"


def test_a_name_that_is_not_a_plain_file_name_is_refused(tmp_path):
    for name in ("../hit", "hit/bench", "", " hit"):
        with pytest.raises(ValueError):
            result_path(name, directory=tmp_path)


def test_a_runs_raw_output_goes_to_a_directory_of_its_own(tmp_path, monkeypatch):
    monkeypatch.setattr("bench.results.RUNS_DIR", tmp_path)
    directory = run_directory("hit")
    assert directory.parent == tmp_path
    assert directory.name.startswith("hit-")
    assert (directory / "logs").is_dir()


def test_a_benchs_printed_lines_are_kept_as_printed_under_a_dated_heading():
    lines = ["== run", "  replica-1: 3,331 answers", "targets: met"]
    text = text_report("cluster_bench", lines)
    heading, *rest = text.splitlines()
    assert heading == f"# cluster_bench, {datetime.now(UTC).date().isoformat()}"
    assert "\n".join(lines) in text
    assert rest[-1] == "```"


def test_what_a_bench_prints_also_goes_to_its_result_file(tmp_path, capsys):
    with recorded("warm_bench", directory=tmp_path):
        print("renderer over HTTP: 512 monsters/s")
        print("target 0.5 x renderer over HTTP: PASS")
    [path] = tmp_path.iterdir()
    assert path.name.endswith("-warm_bench.md")
    assert "renderer over HTTP: 512 monsters/s\ntarget 0.5 x renderer" in path.read_text()
    assert "renderer over HTTP: 512 monsters/s" in capsys.readouterr().out  # as before


def test_a_bench_that_fails_writes_no_result(tmp_path):
    with pytest.raises(SystemExit), recorded("warm_bench", directory=tmp_path):
        print("half a figure")
        raise SystemExit("wrk is not installed")
    assert list(tmp_path.iterdir()) == []
