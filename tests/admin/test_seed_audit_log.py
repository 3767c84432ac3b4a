"""`manage.py seed_audit_log`: synthetic audit rows for benchmarks and demos."""

from __future__ import annotations

import datetime
import re
from collections import Counter
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from monsters.audit import seed as audit_seed
from monsters.images import identity
from monsters.models import Generation

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_audit_log", *args, stdout=out)
    return out.getvalue()


def test_refuses_to_run_when_debug_is_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        seed("--rows", "10")
    assert Generation.objects.count() == 0


def test_force_runs_it_although_debug_is_off(settings):
    settings.DEBUG = False
    assert "Inserted 10 synthetic generations" in seed("--rows", "10", "--force")
    assert Generation.objects.count() == 10


def test_runs_without_force_when_debug_is_on(settings):
    settings.DEBUG = True
    seed("--rows", "5")
    assert Generation.objects.count() == 5


@pytest.mark.parametrize("rows", ["0", "-3", str(audit_seed.MAX_ROWS + 1)])
def test_a_row_count_out_of_range_is_a_command_error(rows):
    with pytest.raises(CommandError, match="rows must be from 1"):
        seed("--rows", rows, "--force")


def test_a_row_count_that_is_not_a_number_is_a_command_error():
    with pytest.raises(CommandError, match="invalid int value"):
        seed("--rows", "many", "--force")


def test_rows_are_required():
    with pytest.raises(CommandError, match="--rows"):
        seed("--force")


def test_batches_add_up_to_the_rows_asked_for():
    out = seed("--rows", "25", "--batch-size", "10", "--force", "-v", "2")
    assert Generation.objects.count() == 25
    assert "25 / 25" in out


def test_quiet_at_verbosity_zero():
    assert seed("--rows", "3", "--force", "-v", "0") == ""


def test_rows_look_like_a_live_log():
    seed("--rows", "3000", "--days", "30", "--seed", "7", "--force")
    rows = Generation.objects.all()
    sizes = Counter(rows.values_list("size", flat=True))
    origins = Counter(rows.values_list("origin", flat=True))
    assert [size for size, _ in sizes.most_common(3)] == [80, 160, 40]
    assert origins.most_common(1)[0][0] == Generation.Origin.WEB
    assert set(origins) <= set(Generation.Origin.values)
    assert all(
        re.fullmatch(identity.NAME_HASH_PATTERN, h)
        for h in rows.values_list("name_hash", flat=True)[:200]
    )
    assert rows.values("name_hash").distinct().count() < 3000  # some hashes come back
    times = list(rows.order_by("id").values_list("created_at", flat=True))
    assert times == sorted(times)  # written in time order, as the service writes
    now = timezone.now()
    assert now - datetime.timedelta(days=30, minutes=1) <= times[0]
    assert times[-1] <= now
    assert len({t.date() for t in times}) >= 29


def test_the_same_seed_gives_the_same_rows():
    end = timezone.now()
    first = list(audit_seed.synthetic_generations(rows=50, seed=3, end=end))
    second = list(audit_seed.synthetic_generations(rows=50, seed=3, end=end))
    assert first == second
