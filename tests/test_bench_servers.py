"""bench/servers.py: a bare app under the shipped gunicorn.conf.py, as the serving benches
start their servers, and the CPU time they are charged with."""

from __future__ import annotations

import base64
import json
import os
import time
from contextlib import ExitStack
from http import HTTPStatus

import requests

from bench.servers import Servers, process_cpu_seconds


def test_cpu_time_is_read_from_proc():
    before = process_cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:
        pass
    assert process_cpu_seconds(os.getpid()) > before
    assert process_cpu_seconds(2**22 + 1) == 0.0  # gone: its time is its parent's now


def test_the_ceiling_answers_the_recorded_hit_and_is_stopped_with_the_run(tmp_path):
    recorded = tmp_path / "ceiling.json"
    body = b"\x89PNG recorded"
    recorded.write_text(
        json.dumps(
            {
                "status": "200 OK",
                "headers": [["Content-Type", "image/png"], ["X-Cache", "HIT"]],
                "body": base64.b64encode(body).decode(),
            }
        )
    )
    with ExitStack() as stack:
        servers = Servers(stack, tmp_path)
        ceiling = servers.ceiling(recorded)
        cpu_before = servers.cpu_seconds()
        with requests.Session() as session:
            answers = [session.get(ceiling.url + "/monster/x", timeout=5) for _ in range(500)]
        assert {a.status_code for a in answers} == {HTTPStatus.OK}
        assert {a.content for a in answers} == {body}
        assert answers[0].headers["X-Cache"] == "HIT"
        assert ceiling.workers()
        assert servers.cpu_seconds() > cpu_before
    assert ceiling.popen.poll() is not None
