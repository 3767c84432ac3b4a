"""Gunicorn settings for Identidock: `gunicorn -c gunicorn.conf.py identidock.wsgi`.

Every value can be tuned from the environment; the defaults suit a small box (a couple
of cores, a few hundred MB of memory). Command-line flags and GUNICORN_CMD_ARGS still
win over this file, so `make run` and `make stack` pass their own `--bind`.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

# gunicorn reads this file by its path, with the working directory on sys.path; the
# checkout this file sits in goes there too, so `identidock` imports from anywhere.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from identidock import env  # noqa: E402

MAX_DEFAULT_WORKERS = 8


def _exit(message: str) -> SystemExit:
    # SystemExit, not EnvValueError: gunicorn would wrap an exception in a traceback.
    return SystemExit(f"Error: {message}")


# The parsers identidock/settings.py reads its settings with (identidock/env.py).
_env_int = env.raising(_exit, env.env_int)
_env_str = env.raising(_exit, env.env_str)
_env_bool = env.raising(_exit, env.env_bool)


def _cores() -> int:
    # The CPUs this process may run on (a container's cpuset), not the host's count.
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_workers(cores: int) -> int:
    """Gunicorn's rule of thumb, 2 x cores + 1, capped so a big host does not overcommit."""
    return min(2 * cores + 1, MAX_DEFAULT_WORKERS)


# Inside a container the port is ours alone; outside one, pass `--bind 127.0.0.1:PORT`.
bind = ["0.0.0.0:5000"]  # noqa: S104
workers = _env_int("GUNICORN_WORKERS", default_workers(_cores()), minimum=1)
# Threads: a request mostly waits on Redis, PostgreSQL or the renderer, so threads
# overlap that waiting at a fraction of a process's memory.
worker_class = _env_str("GUNICORN_WORKER_CLASS", "gthread")
threads = _env_int("GUNICORN_THREADS", 4, minimum=1)
timeout = _env_int("GUNICORN_TIMEOUT", 30, minimum=1)
# Below compose's stop_grace_period (30 s), so SIGTERM drains requests before SIGKILL.
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 20, minimum=1)
# A kept-alive connection waits in the gthread worker's poller, not in a thread, so
# keeping it costs a file descriptor only. 5 s suits clients that connect directly (as
# in compose); behind a proxy that keeps upstream connections, set it above the proxy's
# idle timeout, or the proxy may reuse a connection just as gunicorn closes it.
keepalive = _env_int("GUNICORN_KEEPALIVE", 5, minimum=0)
# No recycling by default. A new worker imports Django again, loads its templates,
# connects anew and drops its kept-alive connections, so frequent replacement costs
# throughput and tail latency; RSS stays flat without it (bench/hit_bench.py checks
# that). Set it to bound a leak you have seen; the jitter, by default a tenth of it,
# keeps the workers from being replaced all at once.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 0, minimum=0)
max_requests_jitter = _env_int("GUNICORN_MAX_REQUESTS_JITTER", max_requests // 10, minimum=0)
# Proxies whose X-Forwarded-* headers are believed (comma-separated IPs or networks).
forwarded_allow_ips = _env_str("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# From those proxies gunicorn would also take SCRIPT_NAME and PATH_INFO headers into the
# WSGI environ (its default forwarder_headers). Identidock is never served under a
# prefix and no proxy of ours sends them, so they only let a local client break its own
# request (a SCRIPT_NAME the path does not start with was a 500) or move the app:
# headers with underscores are then dropped like any other (header_map "drop").
forwarder_headers = ""
# And the scheme from X-Forwarded-Proto alone (the header our proxy sets), not also from
# X-Forwarded-Ssl and X-Forwarded-Protocol (gunicorn's default): with three, a client
# could send one that contradicts the proxy's and have gunicorn refuse its request.
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}

# One line per request on stdout, the only request log when nothing sits in front (as
# in compose). Formatting and writing it is a sizeable share of a cache hit's CPU: turn
# it off when a proxy in front logs the requests already.
accesslog = "-" if _env_bool("GUNICORN_ACCESS_LOG", True) else None
errorlog = "-"
# An avatar's path is written `/avatar/<redacted>`: never the client's email hash.
logger_class = "identidock.redaction.AccessLogger"
loglevel = _env_str("GUNICORN_LOG_LEVEL", "info")
# The combined log format plus the time taken, in milliseconds, and the request id the
# app's own log lines carry (the proxy's X-Request-ID, or the app's, echoed back).
access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms %({x-request-id}o)s'
)
if _env_str("LOG_FORMAT", "plain") == "json":
    access_log_format = (
        '{"time": "%(t)s", "remote": "%(h)s", "request": "%(r)s", "status": %(s)s, '
        '"bytes": "%(b)s", "ms": %(M)s, "request_id": "%({x-request-id}o)s", '
        '"agent": "%(a)s"}'
    )

# Heartbeat files in memory: on a container's overlay filesystem a slow disk can make
# the arbiter think a busy worker hung. Gunicorn creates them with mkstemp, so a shared
# directory is safe.
SHARED_MEMORY = "/dev/shm"  # noqa: S108
if os.path.isdir(SHARED_MEMORY):
    worker_tmp_dir = SHARED_MEMORY

# Gunicorn's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl),
# so a second server on the machine unlinks the first one's; in the image $HOME is not
# writable either. Off unless GUNICORN_CONTROL_SOCKET names a path of this server's own.
control_socket = _env_str("GUNICORN_CONTROL_SOCKET", "gunicorn.ctl")
control_socket_disable = not _env_str("GUNICORN_CONTROL_SOCKET")

# Metrics (monsters/metrics.py): every worker writes its counts to files in a directory
# of this server's own, and the master serves their sum on METRICS_PORT (0: off), a port
# the proxy never routes to. It listens on METRICS_BIND, loopback unless a deployment's
# private network says otherwise (compose and Kubernetes set 0.0.0.0).
metrics_port = _env_int("METRICS_PORT", 9100, minimum=0)
metrics_bind = _env_str("METRICS_BIND", "127.0.0.1")
# The web app, whose requests the metrics count (module, attribute). The renderer runs
# with this file too (compose's `dnmonster`) and serves none.
WEB_APP = ("identidock.wsgi", "application")
_made_metrics_dir = False


def on_starting(server):
    """The metrics directory of this server's own, before any worker is forked."""
    global _made_metrics_dir
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        _made_metrics_dir = True
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(
            prefix="identidock-metrics-",
            dir=SHARED_MEMORY if os.path.isdir(SHARED_MEMORY) else None,
        )


def serves_web_app(app_uri: object) -> bool:
    """Whether gunicorn was told to load Identidock's WSGI stack: `identidock.wsgi`'s
    `application`, read as gunicorn's own import_app reads it (no `:name` means
    `application`). The renderer, or anything else run with this file, is not."""
    if not isinstance(app_uri, str):
        return False
    module, colon, name = app_uri.partition(":")
    return (module, name if colon else "application") == WEB_APP


def when_ready(server):
    """Serve the workers' summed metrics from the master (the web app only)."""
    # What gunicorn loads: the APP_MODULE argument, or the `wsgi_app` setting without one.
    app_uri = getattr(server.app, "app_uri", None) or server.cfg.wsgi_app
    if not metrics_port or not serves_web_app(app_uri):
        return
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    try:
        start_http_server(metrics_port, addr=metrics_bind, registry=registry)
    except OSError as exc:  # another server has the port: serve requests all the same
        server.log.warning("Metrics not served on %s:%s: %s", metrics_bind, metrics_port, exc)
    else:
        server.log.info("Metrics on http://%s:%s/metrics", metrics_bind, metrics_port)


def child_exit(server, worker):
    """A worker's live gauges go with it; its counters stay in the sum."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _made_metrics_dir:  # a directory the environment named is the operator's
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
