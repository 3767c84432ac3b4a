"""bench/proxy_checks.py: how the proxy bench reads, from the access logs, who answered the
images: the proxy's copy (its `pc=` field) or the app (a line in gunicorn's log)."""

from __future__ import annotations

from bench import proxy_checks

WHEN = "[06/Dec/2026:15:29:20 +0000]"


def proxy_line(request: str, cache: str, upstream: str = "-") -> str:
    """A line of the template's `identidock` access-log format."""
    return (
        f'127.0.0.1 - - {WHEN} "{request} HTTP/1.1" 200 266 "-" "wrk" rt=0.000 urt=- id=1 '
        f'ua="{upstream}" us="-" xc=HIT pc={cache}\n'
    )


def app_line(request: str) -> str:
    """A line of gunicorn.conf.py's access-log format."""
    return f'127.0.0.1 - - {WHEN} "{request} HTTP/1.0" 200 266 "-" "-" 3ms abd\n'


PROXY_LOG = [
    proxy_line("GET /monster/ab?size=80&v=r1", "HIT"),
    proxy_line("GET /avatar/<redacted>?s=80", "HIT"),
    proxy_line("GET /monster/cd?size=80&v=r1", "MISS", upstream="127.0.0.1:5000"),
    proxy_line("GET /healthz", "-", upstream="127.0.0.1:5000"),
]


def test_the_proxys_log_says_what_its_cache_did_for_each_image(tmp_path):
    log = tmp_path / "proxy.stdout.log"
    log.write_text("".join(PROXY_LOG))
    assert proxy_checks.proxy_cache_statuses(log) == {"HIT": 2, "MISS": 1}
    after_first = len(PROXY_LOG[0])
    assert proxy_checks.proxy_cache_statuses(log, after=after_first) == {"HIT": 1, "MISS": 1}


def test_gunicorns_log_counts_the_image_requests_that_reached_the_app(tmp_path):
    log = tmp_path / "identidock.stdout.log"
    log.write_text(app_line("GET /healthz") + app_line("GET /monster/cd?size=80&v=r1"))
    assert proxy_checks.image_requests(log) == 1
    assert proxy_checks.image_requests(log, after=log.stat().st_size) == 0
