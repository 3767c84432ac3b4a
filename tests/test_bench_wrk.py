"""bench/wrk.py: wrk's figures as the benches read them, from a real run's output."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.wrk import Measured, WrkRun, fresh_script, lua, rotate_script, run_wrk

# The whole stdout of a real run: `wrk -t2 -c4 -d1s --timeout 10s --latency -s rotate.lua`,
# the script from `rotate_script` over two paths, one of them a 404, against a small
# local server. Long lines are wrapped with backslashes; the text is wrk's own.
WRK_OUTPUT = """\
Running 1s test @ http://127.0.0.1:45241
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    44.03ms    8.34ms  52.24ms   95.45%
    Req/Sec    43.80      6.94    60.00     90.00%
  Latency Distribution
     50%   44.03ms
     75%   47.97ms
     90%   49.56ms
     99%   52.24ms
  88 requests in 1.01s, 10.89KB read
  Non-2xx or 3xx responses: 44
Requests/sec:     87.44
Transfer/sec:     10.82KB
bench-wrk: requests=88 duration_us=1006355 connect=0 read=0 write=0 status=44 timeout=0
bench-wrk: latency_us 3432:1 3990:1 4236:1 24271:1 40828:1 41804:1 42362:1 42585:1 \
42624:1 43039:1 43260:1 43429:1 43505:1 43624:1 43699:1 43703:1 43757:1 43781:1 \
43828:1 43854:1 43862:1 43878:1 43900:1 43924:1 43934:1 43961:2 43963:1 43974:1 \
43975:2 43977:1 43978:1 43980:1 43983:1 43986:1 43989:1 43993:1 43997:2 44007:1 \
44008:1 44009:1 44010:1 44031:1 44084:1 44143:1 44190:1 44274:1 44464:1 44684:1 \
44709:1 44770:1 44899:1 45073:1 46036:1 46260:1 46520:2 46909:1 46910:1 46975:1 \
47560:1 47877:1 47899:1 47965:2 47967:1 47977:1 47979:1 47982:2 47990:1 47991:1 \
48000:1 48019:1 48035:1 48040:1 49422:1 49563:1 50082:1 50090:1 51659:1 51933:1 \
51960:1 51993:1 52023:1 52237:1
"""


def _wrk_says(name: str) -> float:
    """A figure from wrk's own text: 'Requests/sec' or a latency percentile ('50%')."""
    found = re.search(rf"^\s*{re.escape(name)}:?\s+([\d.]+)", WRK_OUTPUT, re.MULTILINE)
    assert found, name
    return float(found[1])


def _run(requests: int, seconds: float, latencies: dict[int, int]) -> WrkRun:
    errors = dict.fromkeys(("connect", "read", "write", "status", "timeout"), 0)
    return WrkRun(requests, seconds, errors, Counter(latencies))


def test_a_real_runs_output_gives_wrks_own_rate_and_percentiles():
    run = WrkRun.parse(WRK_OUTPUT)
    measured = Measured([run])
    assert run.requests == 88
    assert measured.rate == pytest.approx(_wrk_says("Requests/sec"), abs=0.01)
    # wrk's percentiles come from its own histogram's buckets: within 0.1 % of ours.
    assert measured.percentile_ms(50) == pytest.approx(_wrk_says("50%"), rel=1e-3)
    assert measured.percentile_ms(99) == pytest.approx(_wrk_says("99%"), rel=1e-3)
    assert sum(run.latency_us.values()) == run.requests


def test_a_real_runs_bad_statuses_are_counted_as_errors():
    run = WrkRun.parse(WRK_OUTPUT)
    assert run.errors == {"connect": 0, "read": 0, "write": 0, "status": 44, "timeout": 0}
    assert Measured([run]).errors == _wrk_says("Non-2xx or 3xx responses")


def test_rounds_merge_into_one_rate_and_percentiles_over_every_request():
    measured = Measured([_run(1000, 5.0, {1000: 99, 9000: 1}), _run(3000, 5.0, {2000: 100})])
    assert measured.rate == pytest.approx(400.0)
    assert measured.percentile_ms(50) == pytest.approx(2.0)
    assert measured.percentile_ms(99) == pytest.approx(2.0)
    assert measured.percentile_ms(100) == pytest.approx(9.0)


def test_server_cpu_is_counted_per_request_over_every_round():
    first, second = _run(2000, 5.0, {1000: 2000}), _run(2000, 5.0, {1000: 2000})
    first.server_cpu_seconds, second.server_cpu_seconds = 1.0, 3.0
    assert Measured([first, second]).cpu_us == pytest.approx(1000.0)


def test_nothing_measured_is_no_rate_and_no_percentile():
    assert Measured().rate == 0.0
    assert Measured().cpu_us == 0.0
    assert Measured().percentile_ms(50) != Measured().percentile_ms(50)  # NaN


def test_wrk_output_without_the_scripts_figures_is_an_error():
    with pytest.raises(RuntimeError, match="wrk printed no results"):
        WrkRun.parse("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_etags_and_bodies_become_valid_lua_strings():
    assert lua('"0123abcd"') == '"\\"0123abcd\\""'
    assert lua({"If-None-Match": '"x"'}) == '{["If-None-Match"] = "\\"x\\""}'
    with pytest.raises(ValueError):
        lua("line\nbreak")


class _Recorder(BaseHTTPRequestHandler):
    """Answers 200, or 404 for /missing, and records every path asked for."""

    protocol_version = "HTTP/1.1"
    paths: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        self.paths.append(self.path)
        self.send_response(404 if self.path == "/missing" else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    _Recorder.paths = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_wrk_runs_the_rotation_and_every_reply_is_counted(recorder, tmp_path):
    script = rotate_script([("GET", "/a", None, None), ("GET", "/missing", None, None)])
    run = run_wrk(recorder, script, seconds=1, connections=2, threads=1, raw=tmp_path / "r.txt")
    assert run.requests > 0
    assert set(_Recorder.paths) == {"/a", "/missing"}
    # wrk counts the replies it had when time was up: a request in flight then, per
    # connection, reached the server but is not counted.
    assert 0 <= len(_Recorder.paths) - run.requests <= 2
    assert abs(run.errors["status"] - _Recorder.paths.count("/missing")) <= 2
    assert Measured([run]).percentile_ms(50) > 0
    assert "Requests/sec" in (tmp_path / "r.txt").read_text()  # the raw output is kept


def test_wrk_asks_for_a_new_64_hex_id_on_every_request(recorder, tmp_path):
    script = fresh_script("0" * 40, "?size=80")
    run = run_wrk(recorder, script, seconds=1, connections=2, threads=2, raw=tmp_path / "f.txt")
    assert 0 <= len(_Recorder.paths) - run.requests <= 2
    assert run.requests > 1
    assert len(set(_Recorder.paths)) == len(_Recorder.paths)
    assert all(re.fullmatch(r"/monster/0{40}[0-9a-f]{24}\?size=80", p) for p in _Recorder.paths)


def test_fresh_ids_take_a_prefix_that_leaves_room_for_thread_and_counter():
    # 40 hex digits of prefix + 8 of thread + 16 of counter: a 64-hex hash.
    assert 'prefix = "' + "f" * 40 + '"' in fresh_script("f" * 40, "?size=80&v=r")
    with pytest.raises(ValueError):
        fresh_script("f" * 64, "?size=80")
