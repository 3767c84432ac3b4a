"""The `proxy` service here: Debian's nginx with the template the nginx image renders.

The compose service mounts docker/nginx/templates/ into the nginx image, whose start
script fills in the template's ${NAME} variables from the environment (envsubst, with
only the names that are set, so nginx's own $variables stay) and includes the result in
its nginx.conf. Here the same template is rendered the same way, with local addresses,
and wrapped in an nginx.conf of our own whose every path (pid, temporary files, the
image cache) lies under a prefix directory of this run's own, so nginx needs no root
paths and no root. The cache's size and inactivity are the compose service's
(PROXY_CACHE_SIZE, PROXY_CACHE_INACTIVE, with its defaults); its status server listens
on a loopback port of its own, as on one machine 8081 may be taken.
"""

from __future__ import annotations

import re
import shutil
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

from scripts.stack import ROOT, StackError, compose
from scripts.stack.ports import free_port

TEMPLATE = ROOT / "docker" / "nginx" / "templates" / "default.conf.template"
# Where Debian puts nginx; /usr/sbin is not on every user's PATH.
SEARCH_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
HOW_TO_INSTALL = "apt-get install nginx"

# nginx's five kinds of temporary files; each defaults to a root-owned path.
_TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
_NAME = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")

MAIN_CONFIG = """\
# Written by scripts/stack/proxy.py for `make stack`: the nginx image's nginx.conf, as
# far as it matters, with every path under this prefix.
daemon off;
worker_processes auto;
pid {prefix}/nginx.pid;
error_log stderr notice;

events {{
    worker_connections 1024;
}}

http {{
{temp_paths}
    include {site};
}}
"""


def render(template: str, values: Mapping[str, str]) -> str:
    """`envsubst` as the nginx image runs it: $NAME and ${NAME} of the given names only."""

    def replace(match: re.Match[str]) -> str:
        name = match["braced"] or match["bare"]
        return values[name] if name in values else match[0]

    return _NAME.sub(replace, template)


def template_variables(template: str) -> set[str]:
    """The upper-case ${NAME}s a template expects from the environment."""
    return {name for name in re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", template)}


def per_upstream(template: str, upstreams: Sequence[str]) -> str:
    """Each line that names ${IDENTIDOCK_UPSTREAM}, once per upstream (host:port), as
    Docker's DNS gives nginx one address per replica of a scaled service."""
    lines: list[str] = []
    for line in template.splitlines(keepends=True):
        if "${IDENTIDOCK_UPSTREAM}" in line:
            lines.extend(render(line, {"IDENTIDOCK_UPSTREAM": one}) for one in upstreams)
        else:
            lines.append(line)
    return "".join(lines)


def compose_settings(variables: Mapping[str, str] | None = None) -> dict[str, str]:
    """The compose proxy service's environment, interpolated with `variables` (none:
    the compose file's own defaults)."""
    return compose.service_environment(compose.load_compose(), "proxy", variables or {})


def write_config(
    prefix: Path,
    *,
    listen: str,
    upstream: str | Sequence[str],
    settings: Mapping[str, str] | None = None,
    status_listen: str | None = None,
) -> Path:
    """Render the template into `prefix` for nginx on `listen`, in front of `upstream`
    (host:port, or several: one `server` line each); return the path of the nginx.conf
    that includes it. `settings`: the proxy service's environment (compose_settings());
    the cache goes under `prefix` whatever it says, and the status server on
    `status_listen` (a free loopback port when None)."""
    upstreams = [upstream] if isinstance(upstream, str) else list(upstream)
    if not upstreams:
        raise StackError("the proxy needs at least one upstream")
    template = TEMPLATE.read_text(encoding="utf-8")
    values = {
        **(compose_settings() if settings is None else settings),
        "PROXY_LISTEN": listen,
        "IDENTIDOCK_UPSTREAM": upstreams[0],
        "PROXY_CACHE_PATH": str(prefix / "image_cache"),
        "PROXY_STATUS_LISTEN": status_listen or f"127.0.0.1:{free_port()}",
    }
    missing = template_variables(template) - set(values)
    if missing:
        raise StackError(f"{TEMPLATE.name} expects {sorted(missing)}, which the stack does not set")
    site = prefix / "identidock.conf"
    site.write_text(render(per_upstream(template, upstreams), values), encoding="utf-8")
    return write_main_config(prefix, site)


def write_main_config(prefix: Path, site: Path) -> Path:
    """`prefix`/nginx.conf: MAIN_CONFIG around the server configuration in `site`, every
    temporary path under `prefix`; its path."""
    temp_paths = "\n".join(f"    {kind}_temp_path {prefix}/{kind}_temp;" for kind in _TEMP_PATHS)
    main = prefix / "nginx.conf"
    main.write_text(MAIN_CONFIG.format(prefix=prefix, temp_paths=temp_paths, site=site))
    # Started by root, nginx's workers run as `nobody` and must reach their temporary
    # files under the prefix.
    prefix.chmod(prefix.stat().st_mode | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    return main


def nginx_binary() -> str:
    found = shutil.which("nginx", path=SEARCH_PATH)
    if found is None:
        raise StackError(f"nginx is missing: `{HOW_TO_INSTALL}`")
    return found


def command(config: Path, *, test: bool = False) -> list[str]:
    """nginx in the foreground on `config`, its prefix the config's directory; `test`
    only checks the configuration (`nginx -t`)."""
    prefix = config.parent
    return [
        nginx_binary(),
        *(["-t"] if test else []),
        "-p",
        str(prefix),
        "-c",
        str(config),
        "-e",
        "stderr",  # the log before the configuration is read: not /var/log/nginx
    ]
