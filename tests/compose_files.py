"""The compose files read as `docker compose` reads them, for tests that have no engine:
each file with its `!reset` tags, the merge of an override onto the base file, and a
service's definition and environment with the operator's secrets filled in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from scripts.stack import compose

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILES = sorted(ROOT.glob("docker-compose*.yml"))
BASE = ROOT / "docker-compose.yml"
DEV = ROOT / "docker-compose.dev.yml"
ORIGINAL_RENDERER = ROOT / "docker-compose.dnmonster.yml"
# What the compose file needs from the operator; the stack test supplies the same.
SECRETS = {"SECRET_KEY": "k" * 50, "POSTGRES_PASSWORD": "pw", "IDENTIDOCK_SALT": "s" * 32}


class _Reset:
    """Compose's `!reset` merge tag: the attribute is removed from what earlier files set."""

    def __repr__(self) -> str:
        return "!reset"


RESET = _Reset()


class _ComposeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, plus the merge tag compose knows."""


_ComposeLoader.add_constructor("!reset", lambda loader, node: RESET)


def load(path: Path = BASE) -> dict:
    return yaml.load(path.read_text(), Loader=_ComposeLoader)  # noqa: S506 (a SafeLoader)


def without_resets(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: without_resets(item) for key, item in value.items() if item is not RESET}
    if isinstance(value, list):
        return [without_resets(item) for item in value]
    return value


# Attributes whose value a later file replaces rather than extends (Compose's merge
# rules, "Exceptions: Shell commands").
_REPLACED = {"command", "entrypoint", "test"}


def merge(base: Any, override: Any) -> Any:
    """Compose's documented merge of two files, for what these files use: mappings merge,
    sequences append (commands and healthcheck tests are replaced), `!reset` removes."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            if value is RESET:
                merged.pop(key, None)
            elif key in merged and key not in _REPLACED:
                merged[key] = merge(merged[key], value)
            else:
                merged[key] = value
        return merged
    if isinstance(base, list) and isinstance(override, list):
        return base + override
    return override


def service(name: str, path: Path = BASE) -> dict:
    return load(path)["services"][name]


def environment(service: str, **variables: str) -> dict[str, str]:
    return compose.service_environment(load(), service, {**SECRETS, **variables})
