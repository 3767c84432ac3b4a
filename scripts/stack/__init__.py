"""The compose topology as plain processes, for machines without Docker: `make stack`.

What docker-compose.yml describes, run here against the local PostgreSQL and Redis:

1. the image build's one step that matters at run time: `collectstatic`;
2. `dnmonster`: that service's own command (our renderer under gunicorn), on a free port;
3. `migrate`: the one-off service's command, which must succeed;
4. `identidock`: the image's start script, docker/cmd.sh (so gunicorn with
   gunicorn.conf.py), with the environment the compose file gives the service, its
   service host names (postgres, redis, dnmonster) mapped to the local servers, on an
   internal port;
5. `proxy`: Debian's nginx with the compose service's template, on the stack's port.

Ctrl-C or SIGTERM stops everything gracefully, as `docker stop` does: SIGQUIT to nginx,
SIGTERM to each gunicorn, then wait. tests/test_stack.py drives the same modules, one
job each:

    compose     docker-compose.yml read, interpolated and mapped to this machine
    databases   create and drop databases on the local PostgreSQL server
    processes   start processes, wait until they serve, stop them gracefully
    proxy       nginx's configuration: the compose service's template, rendered here
    topology    the compose services, in compose's order, as processes
    smoke       click through the running site as a person would
    ports       a free TCP port on the loopback (bench/ uses it too)

    .venv/bin/python -m scripts.stack [--port 5000] [--check] [--replicas N]

Importing the package imports none of those modules, so bench/ (which runs without the
dev requirements, PyYAML among them) can take `ports` alone.
"""

from __future__ import annotations

from pathlib import Path

# The checkout: compose's build context, and every process's working directory.
ROOT = Path(__file__).resolve().parents[2]


class StackError(RuntimeError):
    """The stack could not start; the message says which part and why."""
