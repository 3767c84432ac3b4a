"""docker-compose.yml as this machine can run it: read, interpolated, mapped to local servers.

There is no compose engine here (`docker` is a client only), so this module does the
part of compose's work that `make stack` needs: a service's environment and command.

The interpolator is our own because compose's `${VAR...}` is a dialect of its own and
none of the libraries we looked at speaks it. expandvars, the closest, is bash: `$$` is
not a literal `$`, a backslash escapes, `${VAR-d}` treats empty as unset and `${VAR:=d}`
writes back. python-dotenv knows only `${VAR}` and `${VAR:-d}`, and keeps an empty
value. The docker-compose 1.x package had compose's own code but is unmaintained since
2021 and pins PyYAML below 6. Not supported, since our files use neither: `${VAR:+x}`
and nested defaults.
"""

from __future__ import annotations

import os
import re
import sys
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from scripts.stack import ROOT, StackError

COMPOSE_FILE = ROOT / "docker-compose.yml"
VENV_BIN = Path(sys.executable).parent

_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?])(?P<argument>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        compose = yaml.safe_load(handle)
    if not isinstance(compose, dict) or not isinstance(compose.get("services"), dict):
        raise StackError(f"{path} has no `services:` mapping")
    return compose


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `$$`."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        operator = match["operator"] or ""
        value = variables.get(name)
        if operator.startswith(":") and value == "":
            value = None  # with a colon, empty counts as unset
        if value is not None:
            return value
        if operator.endswith("-"):
            return match["argument"]
        if operator.endswith("?"):
            raise StackError(f"{name} is required: {match['argument']}")
        return ""

    return _VARIABLE.sub(replace, text)


def service_environment(
    compose: Mapping[str, Any], service: str, variables: Mapping[str, str]
) -> dict[str, str]:
    """The environment compose would give `service`, interpolated with `variables`."""
    declared = compose["services"][service].get("environment") or {}
    if isinstance(declared, list):
        declared = dict(item.split("=", 1) if "=" in item else (item, None) for item in declared)
    environment = {}
    for name, value in declared.items():
        if value is None:  # `NAME:` alone passes the caller's value through
            if name in variables:
                environment[name] = variables[name]
            continue
        environment[name] = interpolate(str(value), variables)
    return environment


def service_command(compose: Mapping[str, Any], service: str) -> list[str]:
    command = compose["services"][service]["command"]
    if isinstance(command, str):
        raise StackError(f"{service}: write `command` as a list, so no shell is involved")
    return [str(part) for part in command]


def localize(environment: Mapping[str, str], endpoints: Mapping[str, str]) -> dict[str, str]:
    """Replace every URL that points at a compose service with that service's local URL."""
    local = {}
    for name, value in environment.items():
        host = urllib.parse.urlsplit(value).hostname if _URL.match(value) else None
        local[name] = endpoints[host] if host is not None and host in endpoints else value
    return local


def localize_command(command: list[str], *, bind: str) -> list[str]:
    """The container command for this machine: our virtualenv's tools, a local `--bind`."""
    local = list(command)
    if local and (VENV_BIN / local[0]).exists():
        local[0] = str(VENV_BIN / local[0])
    for flag in ("--bind", "-b"):
        if flag in local:
            local[local.index(flag) + 1] = bind
    return local


def image_environment() -> dict[str, str]:
    """What the image itself provides; nothing of the caller's own settings leaks in."""
    environment = {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for name in ("HOME", "LANG", "LC_ALL", "TZ"):
        if name in os.environ:
            environment[name] = os.environ[name]
    return environment
