"""`warm_cache --style`: names and the audit log warmed in the styles asked for, and an
audit-log rebuild that warms each image in the style it was recorded in."""

from __future__ import annotations

import io

import pytest
from django.core.cache import caches
from django.core.management import CommandError, call_command

import renderer.styles
from monsters.images import identity, keys
from monsters.models import Generation

pytestmark = pytest.mark.django_db(transaction=True)

MOBY = identity.hash_name("Moby Dock")


def warm(*args: str) -> str:
    out = io.StringIO()
    call_command("warm_cache", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def cached(name_hash: str, style: str, size: int = 80) -> bytes | None:
    return caches["monsters"].get(keys.locate(name_hash=name_hash, size=size, style=style).key)


def recorded() -> list[tuple[str, int, str, str]]:
    return sorted(Generation.objects.values_list("name_hash", "size", "style", "origin"))


def test_names_are_warmed_in_every_style_asked_for(renderer_server):
    out = warm("Moby Dock", "--style", "identicon", "--style", "retro")
    assert cached(MOBY, "identicon") == renderer.styles.draw("identicon", MOBY, 80, "png")
    assert cached(MOBY, "retro") == renderer.styles.draw("retro", MOBY, 80, "png")
    assert cached(MOBY, "monster") is None  # not asked for
    assert recorded() == [(MOBY, 80, "identicon", "warm"), (MOBY, 80, "retro", "warm")]
    assert "warmed 2, already cached 0" in out


def test_without_style_names_are_warmed_as_monsters(renderer_server):
    warm("Moby Dock")
    assert recorded() == [(MOBY, 80, "monster", "warm")]


def test_an_audit_log_rebuild_warms_each_image_in_its_recorded_style(renderer_server):
    warm("Moby Dock", "--style", "identicon", "--size", "40")
    warm("Moby Dock", "--size", "80")
    caches["monsters"].clear()  # Redis lost everything
    out = warm("--from-audit-log")
    assert cached(MOBY, "identicon", 40) is not None
    assert cached(MOBY, "monster", 80) is not None
    assert cached(MOBY, "identicon", 80) is None  # never recorded
    assert "warmed 2, already cached 0" in out


def test_an_audit_log_rebuild_in_a_style_asked_for_warms_every_recorded_image_in_it(
    renderer_server,
):
    warm("Moby Dock", "--size", "40")
    out = warm("--from-audit-log", "--style", "retro")
    assert cached(MOBY, "retro", 40) is not None
    assert "warmed 1, already cached 0" in out


def test_a_style_the_renderer_does_not_draw_is_refused_with_the_choices():
    with pytest.raises(CommandError, match="invalid choice: 'cubist'"):
        call_command("warm_cache", "Moby Dock", "--style", "cubist", stderr=io.StringIO())
