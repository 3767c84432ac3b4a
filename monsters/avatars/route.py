"""Gravatar's URL API as an image route: `/avatar/<hash>[.<format>]?s=&d=...`, read by
`read.read` into an image request, then answered by the one image function
(`monsters.images.answer`) like any other route.

Its URLs carry no `v`: no redirect is ever made to a current URL. Any site's script may
read an avatar (to draw it on a canvas), so every answer allows any origin.
"""

from __future__ import annotations

from monsters.avatars import read
from monsters.images.answer import Route
from monsters.models import Generation

AVATAR = Route(
    path=read.PATH,
    read=read.read,
    shared=True,
    current_url=lambda ask: "",
    origin=Generation.Origin.AVATAR,
    cors=True,
)
