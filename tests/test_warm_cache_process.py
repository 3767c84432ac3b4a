"""`manage.py warm_cache` as a real process: exit statuses, stdin, and Ctrl-C (SIGINT).

The command runs with the production settings module, pointed by environment
variables at the test database, the suite's Redis database and a renderer fixture.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import caches
from django.db import connection
from PIL import Image

import renderer
from monsters.images import identity, keys
from monsters.models import Generation
from tests.waiting import eventually

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent
NAMES = [f"guest {n}" for n in range(40)]


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture(autouse=True)
def _ctrl_c_reaches_the_command() -> Iterator[None]:
    """The command gets SIGINT as from a terminal, even when this run ignores it.

    A run started in the background by a script (`make test &`) ignores SIGINT, and an
    ignored signal stays ignored across exec, so the command would never see Ctrl-C;
    a handler of this process's own is reset to the default in the child instead.
    """
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _environment(renderer_url: str, read_timeout: float = 5.0) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "identidock.settings",
        "SECRET_KEY": "test-only-secret-key",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": os.environ["REDIS_URL"],
        "DNMONSTER_URL": renderer_url,
        "DNMONSTER_READ_TIMEOUT": str(read_timeout),
    }


def _start(args: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "warm_cache", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def _cached_pngs() -> dict[str, bytes]:
    """Every cached monster at size 80, by hash."""
    found = {}
    for name in NAMES:
        name_hash = identity.hash_name(name)
        key = keys.locate(name_hash=name_hash, size=80).key
        png = caches["monsters"].get(key)
        if png is not None:
            found[name_hash] = png
    return found


def _wait_for_line(process: subprocess.Popen, text: str) -> None:
    """Read the process's stderr until a line holds `text`.

    Buffered: communicate() later sees none of what was read here, and maybe not all of
    what came after it.
    """
    assert process.stderr is not None
    for line in process.stderr:
        if text in line:
            return
    raise AssertionError(f"the process ended without saying {text!r}")


def test_names_piped_on_stdin_are_warmed_and_the_exit_status_is_0(renderer_server):
    process = _start(["--file", "-"], _environment(renderer_server.url), stdin=subprocess.PIPE)
    out, err = process.communicate("Moby Dock\nAlice\n", timeout=60)
    assert process.returncode == 0, err
    assert "warmed 2, already cached 0, invalid 0, failed 0" in out
    assert Generation.objects.filter(origin="warm").count() == 2


def test_a_usage_error_exits_with_status_2_and_one_line_on_stderr(renderer_server):
    process = _start(["Moby Dock", "--size", "4096"], _environment(renderer_server.url))
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert err == "CommandError: --size 4096: size must be from 16 to 512, not 4096\n"
    assert out == ""


def test_a_failing_renderer_exits_with_status_1(refusing_renderer):
    process = _start(["Moby Dock"], _environment(refusing_renderer))
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert f"failed {identity.hash_name('Moby Dock')[:12]} @ 80px: renderer unreachable" in err
    assert "failed 1 in" in out


def test_ctrl_c_stops_cleanly_with_the_summary_so_far_and_nothing_half_written(
    bad_renderer, tmp_path
):
    bad_renderer.mode = "slow"
    bad_renderer.hang_seconds = 0.4
    names = tmp_path / "names.txt"  # 40 names, 2 at a time: about 8 s uninterrupted
    names.write_text("\n".join(NAMES) + "\n")
    process = _start(["--file", str(names), "--concurrency", "2"], _environment(bad_renderer.url))
    assert eventually(lambda: bad_renderer.hits >= 5, timeout=30)
    asked_before = bad_renderer.hits
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)

    # The queued names were dropped, not rendered: at most the two in progress, and two
    # more begun while the signal was on its way, were asked for after it.
    assert bad_renderer.hits <= asked_before + 2 * 2
    assert process.returncode == 130
    assert "Interrupted: finishing" in err
    assert "interrupted; the summary shows what was done" in err
    summary = out.splitlines()[-1]
    assert summary.startswith("interrupted: warmed ")
    warmed = int(summary.split()[2].rstrip(","))
    assert 4 <= warmed < len(NAMES)
    # Every audit row has its cache entry, every cache entry is a whole PNG.
    pngs = _cached_pngs()
    assert set(Generation.objects.values_list("name_hash", flat=True)) == set(pngs)
    assert len(pngs) == warmed
    for name_hash, png in pngs.items():
        assert png == renderer.render(name_hash, 80)
        Image.open(io.BytesIO(png)).verify()


def test_a_second_ctrl_c_abandons_the_generations_in_progress(bad_renderer):
    bad_renderer.mode = "slow"
    # The renders in progress take a minute, far longer than the command needs to exit on
    # the busiest machine; the fixture ends them when the test is over.
    bad_renderer.hang_seconds = 60.0
    process = _start(
        [*NAMES[:10], "--concurrency", "2"], _environment(bad_renderer.url, read_timeout=120)
    )
    assert eventually(lambda: bad_renderer.hits >= 2, timeout=30)
    process.send_signal(signal.SIGINT)
    _wait_for_line(process, "Interrupted: finishing")  # the first one was taken in
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)

    # Abandoned, not awaited: had the two slow renders finished, they would be cached.
    assert process.returncode == 130
    assert bad_renderer.answered == 0  # it did not wait for the renders in progress
    assert "interrupted: warmed 0," in out
    assert not Generation.objects.exists()
    assert _cached_pngs() == {}
