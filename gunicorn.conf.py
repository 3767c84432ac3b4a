"""Gunicorn settings for Identidock: `gunicorn -c gunicorn.conf.py identidock.wsgi`.

Every value can be tuned from the environment; the defaults suit a small box (a couple
of cores, a few hundred MB of memory). Command-line flags and GUNICORN_CMD_ARGS still
win over this file, so `make run` and `make stack` pass their own `--bind`.
"""

from __future__ import annotations

import os

MAX_DEFAULT_WORKERS = 8


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < minimum:
        # SystemExit, not ValueError: gunicorn would wrap an exception in a traceback.
        raise SystemExit(
            f"Error: {name} must be a whole number of at least {minimum}, not {value!r}."
        )
    return int(value)


def _env_str(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


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
keepalive = _env_int("GUNICORN_KEEPALIVE", 5, minimum=0)
# Recycle workers now and then to bound slow leaks; the jitter keeps them from all
# restarting at once.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 1000, minimum=0)
max_requests_jitter = _env_int("GUNICORN_MAX_REQUESTS_JITTER", 100, minimum=0)
# Proxies whose X-Forwarded-* headers are believed (comma-separated IPs or networks).
forwarded_allow_ips = _env_str("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

accesslog = "-"
errorlog = "-"
loglevel = _env_str("GUNICORN_LOG_LEVEL", "info")
# The combined log format plus the time taken, in milliseconds.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'

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
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET", "").strip()
