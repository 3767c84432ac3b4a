from __future__ import annotations

from http import HTTPStatus

import pytest


def test_favicon_ico_redirects_to_the_brand_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "/static/monsters/brand-40.png"
    assert "max-age=86400" in response["Cache-Control"]


@pytest.mark.parametrize("size", [40, 80, 180])
def test_brand_icons_are_served_as_pngs(client, size):
    response = client.get(f"/static/monsters/brand-{size}.png")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "image/png"
