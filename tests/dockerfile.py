"""The Dockerfile read as a Docker engine would split it, for tests that have no engine:
its stages by name, each stage's instructions, and the exec-form commands in them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


@dataclass(frozen=True)
class Stage:
    """One `FROM ... [AS name]` and the instructions up to the next one."""

    name: str
    base: str
    lines: tuple[str, ...]  # every instruction, continuations joined, spaces collapsed

    def instructions(self, keyword: str) -> list[str]:
        """The arguments of every `keyword` instruction, in order."""
        prefix = keyword.upper() + " "
        return [line[len(prefix) :] for line in self.lines if line.upper().startswith(prefix)]

    def exec_form(self, keyword: str) -> list[str]:
        """The last `keyword` instruction's command in exec (JSON) form: CMD, ENTRYPOINT,
        or the command a HEALTHCHECK runs."""
        arguments = self.instructions(keyword)[-1]
        if keyword.upper() == "HEALTHCHECK":
            arguments = arguments.split(" CMD ", 1)[1]
        command = json.loads(arguments)
        assert isinstance(command, list), f"{keyword} is not in exec form: {arguments}"
        return [str(part) for part in command]

    def environment(self) -> dict[str, str]:
        """What the stage's ENV instructions set (the `NAME=value` form only)."""
        pairs = re.findall(
            r'([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)', " ".join(self.instructions("ENV"))
        )
        return {name: value.strip('"') for name, value in pairs}


def stages(path: Path = DOCKERFILE) -> dict[str, Stage]:
    """Every stage, by its name (an unnamed stage by its index), in the file's order: the
    last one is what `docker build` builds when no --target is given."""
    text = re.sub(r"\\\n", " ", path.read_text())
    found: list[tuple[str, str, list[str]]] = []
    for raw in text.splitlines():
        line = re.sub(r"\s+", " ", raw.strip())
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            words = line.split()
            named = len(words) >= 4 and words[-2].upper() == "AS"
            base = next(word for word in words[1:] if not word.startswith("--"))
            found.append((words[-1] if named else str(len(found)), base, []))
        if found:
            found[-1][2].append(line)
    return {name: Stage(name, base, tuple(lines)) for name, base, lines in found}


def default_target(path: Path = DOCKERFILE) -> str:
    return list(stages(path))[-1]


def gunicorn_option(command: list[str], flag: str) -> str | None:
    """The value a gunicorn command line gives `flag` (`--name value` or `--name=value`)."""
    for index, part in enumerate(command):
        if part == flag and index + 1 < len(command):
            return command[index + 1]
        if part.startswith(flag + "="):
            return part.split("=", 1)[1]
    return None
