"""docker/cmd.sh run with stand-ins for `python` and `gunicorn` that print their argv and
PID, then exit: what the script starts, in which process, for each ENV, without starting
it; shared by the start script's tests and the web image's, whose CMD it is."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests import dockerfile

ROOT = Path(__file__).resolve().parent.parent
START_SCRIPT = ROOT / "docker" / "cmd.sh"


def stand_ins(directory: Path) -> str:
    """Writes the stand-ins into `directory`; the PATH that finds them first."""
    for name in ("python", "gunicorn"):
        stub = directory / name
        stub.write_text(f'#!/bin/sh\necho "$$ {name} $*"\n')
        stub.chmod(0o755)
    return f"{directory}:/usr/bin:/bin"


def run(stub_path: str, **environment: str) -> tuple[int, int, list[str]]:
    """(pid, exit status, lines printed) of the start script with the stand-ins."""
    process = subprocess.Popen(
        [str(START_SCRIPT)],
        cwd=ROOT,
        env={"PATH": stub_path, **environment},
        stdout=subprocess.PIPE,
        text=True,
    )
    stdout, _ = process.communicate(timeout=30)
    return process.pid, process.returncode, stdout.splitlines()


def start(stub_path: str, **environment: str) -> tuple[int, str]:
    pid, returncode, lines = run(stub_path, **environment)
    assert returncode == 0
    return pid, lines[-1]


def assert_execs_the_web_app(pid: int, started: str) -> None:
    """`started` is gunicorn serving identidock.wsgi with gunicorn.conf.py, in the process
    the script started as (exec: the server is the process docker signals)."""
    ran_as, program, *arguments = started.split()
    assert int(ran_as) == pid
    assert program == "gunicorn"
    assert arguments[-1] == "identidock.wsgi"
    assert dockerfile.gunicorn_option(arguments, "--config") == "gunicorn.conf.py"
