"""Styles on the Django side: `/monster/<hash>?style=<name>`, and avatars' `d=`, with a
test-only style registered the way renderer/styles/ registers its own."""

from __future__ import annotations

import io
from collections.abc import Iterator
from http import HTTPStatus

import pytest
from PIL import Image

from monsters.images import identity, keys
from monsters.models import Generation
from renderer import styles as renderer_styles

pytestmark = pytest.mark.django_db(transaction=True)

MOBY = identity.hash_name("Moby Dock")
MD5 = "0bc83cb571cd1c50ba6f3e8a78ef1346"


def _flat(seed: str, size: int) -> bytes:
    """A one-colour square from the seed: a style in a few lines, deterministic."""
    out = io.BytesIO()
    Image.new("RGB", (size, size), "#" + seed[:6]).save(out, "PNG")
    return out.getvalue()


def _flat_webp(seed: str, size: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), "#" + seed[:6]).save(out, "WEBP", lossless=True)
    return out.getvalue()


def _flat_svg(seed: str, size: int) -> bytes:
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}"/>'.encode()


@pytest.fixture
def identicon_style(settings) -> Iterator[str]:
    """`identicon` registered for the test (the real one arrives with renderer/styles/)."""
    before = renderer_styles.STYLES.get("identicon")
    renderer_styles.register(
        renderer_styles.Style("identicon", 7, png=_flat, svg=_flat_svg, webp=_flat_webp)
    )
    settings.MONSTER_MAX_AGE = settings.MONSTER_MAX_AGE + 1  # new settings: caches forget
    yield "identicon"
    if before is None:
        del renderer_styles.STYLES["identicon"]
    else:
        renderer_styles.register(before)


def test_bare_monster_url_is_the_monster_and_keeps_its_key(client, renderer_server):
    response = client.get(f"/monster/{MOBY}")
    assert response.status_code == HTTPStatus.OK
    revision = keys.current_revision()
    assert keys.locate(name_hash=MOBY, size=80).key.endswith(f":{revision}:80:{MOBY}")


def test_a_style_is_its_own_image_key_etag_and_audit_row(client, renderer_server, identicon_style):
    monster = client.get(f"/monster/{MOBY}")
    styled = client.get(f"/monster/{MOBY}", {"style": identicon_style})
    assert styled.status_code == HTTPStatus.OK
    assert styled.content == _flat(MOBY, 80)
    assert styled["ETag"] != monster["ETag"]
    assert renderer_server.count == 1  # only the monster went to the dnmonster
    assert set(Generation.objects.values_list("style", flat=True)) == {"monster", "identicon"}
    address = keys.locate(name_hash=MOBY, size=80, style=identicon_style)
    assert address.revision == "identicon-r7"
    assert address.key.endswith(f"{MOBY}:identicon")


def test_a_styled_url_with_an_old_v_goes_to_the_current_one(
    client, renderer_server, identicon_style
):
    response = client.get(f"/monster/{MOBY}", {"style": identicon_style, "v": "identicon-r1"})
    assert response.status_code == HTTPStatus.FOUND
    assert "v=identicon-r7" in response["Location"]
    assert "style=identicon" in response["Location"]


def test_an_unknown_style_on_monster_is_refused_with_the_known_ones(client, renderer_server):
    response = client.get(f"/monster/{MOBY}", {"style": "nope"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "monster" in response.content.decode()


def test_avatar_d_chooses_a_registered_style(client, renderer_server, identicon_style):
    response = client.get(f"/avatar/{MD5}", {"d": "identicon", "s": 32})
    assert response.status_code == HTTPStatus.OK
    assert Image.open(io.BytesIO(response.content)).getpixel((0, 0)) != (0, 0, 0, 0)
    assert renderer_server.count == 0


def test_avatar_d_for_a_style_not_registered_is_the_monster(
    client, renderer_server, monkeypatch, settings
):
    for style in ("retro", "mp", "blank"):  # whatever renderer/styles/ registers by now
        monkeypatch.delitem(renderer_styles.STYLES, style, raising=False)
    settings.MONSTER_MAX_AGE = settings.MONSTER_MAX_AGE + 1  # new settings: caches forget
    monster = client.get(f"/avatar/{MD5}")
    for default in ("retro", "robohash", "mp", "mm", "blank"):
        assert client.get(f"/avatar/{MD5}", {"d": default})["ETag"] == monster["ETag"]
