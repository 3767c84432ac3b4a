"""The proxy bench's limit: nginx serving the image bytes as plain files, at the same paths.

`lay_out` writes each /monster/<hash> answer's bytes to <root>/monster/<hash>, so that
wrk's rotation over /monster/<hash>?size=80&v=... works unchanged (nginx looks a static
file up by the path alone; the query string is ignored). `write_config` renders a minimal
server for it inside `make stack`'s own nginx.conf (scripts/stack/proxy.py's
MAIN_CONFIG), mirroring what decides the cost of a request in the proxy it runs
(docker/nginx/templates/default.conf.template):

- `worker_processes auto` and `worker_connections 1024` (MAIN_CONFIG);
- `sendfile` left at nginx's default, off, as MAIN_CONFIG leaves it (the nginx image's
  own nginx.conf turns it on; `make stack` is what the proxy bench measures);
- client keep-alive 15 s, `server_tokens off`, `reset_timedout_connection on` (the
  template's server block);
- one access-log line per request, written to a file in the template's own format
  (`identidock`, fields nginx has no upstream for left empty): the proxy logs every
  request too, and that write is part of what a request costs.

`start` runs it in the foreground under the run's directory, as a bench.servers.Server
(so the bench counts its master's and workers' CPU like the gunicorns').
"""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from bench.servers import Server
from scripts.stack import processes, proxy
from scripts.stack.ports import free_port

# The server, included by make stack's own nginx.conf (proxy.MAIN_CONFIG).
SITE = """\
# Written by bench/static_nginx.py: the image bytes as static files, for the proxy bench.
log_format identidock '$remote_addr - $remote_user [$time_local] '
                      '"$request_method $request_uri $server_protocol" $status '
                      '$body_bytes_sent "$http_referer" "$http_user_agent" '
                      'rt=$request_time urt=$upstream_response_time id=$request_id '
                      'ua="$upstream_addr" us="$upstream_status" xc=- '
                      'pc=$upstream_cache_status';

server {{
    listen {listen} default_server;
    server_name _;
    server_tokens off;
    access_log {access_log} identidock;
    keepalive_timeout 15s;
    reset_timedout_connection on;

    # The files have no extension: every one is a PNG.
    types {{ }}
    default_type image/png;

    location /monster/ {{
        root {root};
    }}
    location = /healthz {{
        default_type text/plain;
        return 200 "ok\\n";
    }}
}}
"""


def lay_out(root: Path, images: dict[str, bytes]) -> None:
    """Each image path's bytes (the path without its query) as a file under `root`."""
    for path, body in images.items():
        name = path.partition("?")[0]
        if not name.startswith("/monster/") or "/" in name.removeprefix("/monster/"):
            raise ValueError(f"not a monster path: {path!r}")
        file = root / name.lstrip("/")
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(body)


def write_config(prefix: Path, *, listen: str, root: Path) -> Path:
    """nginx.conf in `prefix` for serving `root` on `listen`; its path. nginx's workers
    (`nobody` when started by root) must be able to reach `prefix` and `root` from /:
    var/bench/ can be, a pytest tmp_path cannot."""
    for directory in (prefix, root):
        directory.mkdir(parents=True, exist_ok=True)
    site = prefix / "static.conf"
    site.write_text(
        SITE.format(listen=listen, access_log=prefix / "static-nginx.access.log", root=root)
    )
    config = proxy.write_main_config(prefix, site)
    for directory in [prefix, root, *(path for path in root.rglob("*") if path.is_dir())]:
        directory.chmod(directory.stat().st_mode | stat.S_IROTH | stat.S_IXOTH)
    return config


def start(prefix: Path, images: dict[str, bytes]) -> Server:
    """nginx serving `images` (path -> bytes) on a free loopback port, once it answers;
    stopping it is the caller's (`Server.stop`)."""
    root = prefix / "files"
    lay_out(root, images)
    port = free_port()
    config = write_config(prefix, listen=f"127.0.0.1:{port}", root=root)
    check = subprocess.run(
        proxy.command(config, test=True), capture_output=True, text=True, check=False
    )
    if check.returncode != 0:
        raise RuntimeError(f"nginx -t refused {config}:\n{check.stderr[-2000:]}")
    process = processes.start(
        "static-nginx", proxy.command(config), {"PATH": proxy.SEARCH_PATH}, log_dir=prefix
    )
    assert process.logs is not None
    server = Server("static-nginx", "nginx (static files)", port, process.popen, process.logs)
    try:
        processes.wait_until_serving(process, f"{server.url}/healthz")
    except BaseException:
        server.stop()
        raise
    return server
