"""What an image request asks for, as its route reads it from the path and the query.

Each route (`answer.Route`) has a reader: the monster routes read `size`, `v` and
`style`; the avatar route reads Gravatar's parameters (`monsters.avatars`). Whatever the
route, a reader gives the one image function (`answer.answer`) an `Ask`, or an answer
that needs no image (`NotFound`, `Redirect`), or raises `Refused`.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus


@dataclass(frozen=True)
class Ask:
    """One image: the id it is drawn from, its size, format and style, and the revision
    the URL named (`v`), if any."""

    name_hash: str
    size: int
    fmt: str
    style: str
    revision: str | None = None
    extension: str | None = None  # as the URL named the format: for the current URL


@dataclass(frozen=True)
class NotFound:
    """No image, on purpose (an avatar's `d=404`)."""

    reason: str


@dataclass(frozen=True)
class Redirect:
    """The image is elsewhere (an avatar's `d=<URL>` to an allowed host)."""

    location: str


class Refused(ValueError):
    """The request cannot be read: the message is the one-line reason shown."""

    def __init__(self, reason: str, status: int = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(reason)
        self.status = status
