"""`manage.py warm_cache` run in-process for a test, and what a run leaves behind: the
images in the monster cache, the audit rows recorded, and a file of names to read."""

from __future__ import annotations

import io

import pytest
from django.core.cache import caches
from django.core.management import CommandError, call_command

from monsters.images import identity, keys, service
from monsters.models import Generation

MOBY = identity.hash_name("Moby Dock")


def warm(*args: str, **options) -> tuple[str, str]:
    """Run the command; (stdout, stderr). Fails the test on a non-zero exit."""
    out, err = io.StringIO(), io.StringIO()
    call_command("warm_cache", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def warm_failing(*args: str, **options) -> tuple[int, str, str]:
    """Run a command that must exit non-zero; (exit status, stdout, stderr + message)."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("warm_cache", *args, stdout=out, stderr=err, **options)
    return failure.value.returncode, out.getvalue(), err.getvalue() + str(failure.value)


def cached_png(name_hash: str, size: int = 80) -> bytes | None:
    return caches["monsters"].get(keys.locate(name_hash=name_hash, size=size).key)


def generate(name_hash: str, size: int = 80) -> None:
    service.get_picture(keys.locate(name_hash=name_hash, size=size))


def recorded() -> list[tuple[str, int, str]]:
    return sorted(Generation.objects.values_list("name_hash", "size", "origin"))


def names_file(tmp_path, text: str | bytes):
    path = tmp_path / "names.txt"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return str(path)
