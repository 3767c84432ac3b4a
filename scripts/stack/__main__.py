"""`make stack`: start the compose topology here, smoke-check it if asked, stop on a signal.

Run as `.venv/bin/python -m scripts.stack [--port 5000] [--check] [--replicas N]` from the checkout.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
from pathlib import Path

import scripts.stack
from scripts.stack import ROOT
from scripts.stack.databases import create_database, database_exists
from scripts.stack.smoke import SmokeReport, smoke
from scripts.stack.topology import Stack

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/identidock"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def kept_secret(path: Path, *, size: int) -> str:
    """A random string kept in `path` (made on first use), the same every run."""
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(secrets.token_urlsafe(size) + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


def local_variables(port: int) -> dict[str, str]:
    """The caller's environment, plus what compose would need from a `.env` file."""
    variables = dict(os.environ)
    # The address people reach the proxy at: a monster's page shares absolute URLs.
    variables.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
    if not variables.get("SECRET_KEY"):
        variables["SECRET_KEY"] = kept_secret(ROOT / "var" / "secret_key", size=50)
    # A salt of this checkout's own: the start script's `check --deploy` refuses the
    # original app's public one. Kept, so a name keeps its monster from run to run.
    if not variables.get("IDENTIDOCK_SALT"):
        variables["IDENTIDOCK_SALT"] = kept_secret(ROOT / "var" / "identidock_salt", size=32)
    # The compose file builds DATABASE_URL from it; here DATABASE_URL replaces that URL.
    variables.setdefault("POSTGRES_PASSWORD", "unused-outside-docker")
    variables.setdefault("GUNICORN_WORKERS", "2")  # frugal on a laptop
    # Metrics on this machine's loopback (`make observe` scrapes them there), not on
    # every interface as on compose's private network.
    variables.setdefault("METRICS_BIND", "127.0.0.1")
    return variables


def _print_smoke(report: SmokeReport) -> bool:
    checks = report.checks()
    for label, passed, detail in checks:
        print(f"  {'ok  ' if passed else 'FAIL'} {label}: {detail}")
    return all(passed for _, passed, _ in checks)


def main() -> int:
    summary = (scripts.stack.__doc__ or "").splitlines()[0]
    parser = argparse.ArgumentParser(prog="python -m scripts.stack", description=summary)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    parser.add_argument("--check", action="store_true", help="smoke-check, then stop")
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="identidock servers behind the proxy (make cluster: 3)",
    )
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if not database_exists(database_url):
        create_database(database_url)
    stack = Stack(
        database_url=database_url,
        redis_url=os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL,
        variables=local_variables(args.port),
        port=args.port,
        replicas=args.replicas,
    )
    # Until the servers are up, Ctrl-C aborts; afterwards it asks for a graceful stop.
    with stack:
        servers = ", ".join(
            f"{name} on 127.0.0.1:{port} (metrics {metrics or 'off'})"
            for name, port, metrics in zip(
                stack.web_names, stack.web_ports, stack.metrics_ports, strict=True
            )
        )
        print(
            f"Identidock on {stack.url} (nginx), gunicorn behind it: {servers}; "
            f"its renderer on {stack.renderer_url}; nginx's counts at {stack.proxy_status_url}",
            flush=True,
        )
        passed = True
        if args.check:
            passed = _print_smoke(smoke(stack.url))
        else:
            print("Ctrl-C stops everything gracefully.", flush=True)
        # From here a signal is a request to stop: taken in turn, never mid-shutdown.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        if not args.check:
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
        exits = stack.stop()
    for name, exit_ in exits.items():
        print(f"{name} exited with {exit_.returncode}", flush=True)
        passed = passed and exit_.returncode == 0
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
