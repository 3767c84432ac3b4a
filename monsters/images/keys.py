"""What names an image: the one home of cache keys and ETags.

    Spec     what is asked for: a hash, a size, a format and a style, whatever the art
    Address  a Spec under the current art: its revision, cache key and strong ETag,
             known without touching the cache

The monster's keys are the keys from before styles, so entries already cached stay
valid; another style's key names its own revision (`<style>-r<version>`) and ends in
`:<style>`, so no two styles ever share an entry or an ETag.

Nothing but this module builds a cache key or an ETag.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from monsters.guards import sources
from monsters.images import formats, styles
from monsters.per_settings import per_settings

KEY_SCHEMA = "v1"


class Spec(NamedTuple):
    """One image, whatever the art: `name_hash` drawn in `style` at `size` px, in format
    `fmt`."""

    name_hash: str
    size: int
    fmt: str = formats.PNG
    style: str = styles.MONSTER


@dataclass(frozen=True)
class Address:
    """One image under the current art: everything that decides its bytes, and the
    cache key and strong ETag derived from them."""

    name_hash: str
    size: int
    revision: str
    key: str
    etag: str
    fmt: str = formats.PNG
    style: str = styles.MONSTER

    @property
    def spec(self) -> Spec:
        return Spec(self.name_hash, self.size, self.fmt, self.style)


def current_revision(style: str = styles.MONSTER) -> str:
    """The revision of the art `style` is drawn in: for the monster, the configured
    renderer's (`builtin-r1`, ...); for another style, its own (`identicon-r1`)."""
    if style == styles.MONSTER:
        return sources.get_source().revision
    return styles.revision(style)


def monster_key(
    *,
    revision: str,
    size: int,
    name_hash: str,
    fmt: str = formats.PNG,
    style: str = styles.MONSTER,
) -> str:
    """`monster:v1:<revision>:<size>:<hash>` for a PNG monster (the key from before
    formats and styles), with `.svg` or `.webp` after it for the other formats and
    `:<style>` after that for the other styles."""
    suffix = "" if fmt == formats.PNG else f".{fmt}"
    if style != styles.MONSTER:
        suffix += f":{style}"
    return f"monster:{KEY_SCHEMA}:{revision}:{size}:{name_hash}{suffix}"


def locate(
    *, name_hash: str, size: int, fmt: str = formats.PNG, style: str = styles.MONSTER
) -> Address:
    """The address of one image under the current art. The ETag is derived from the
    key, so it names the revision, the size, the hash, the format and the style."""
    return _located(name_hash, size, fmt, style)


# Every hit asks for its image's address: the most recent ones are kept (a few MB).
@per_settings(maxsize=4096)
def _located(name_hash: str, size: int, fmt: str, style: str) -> Address:
    revision = current_revision(style)
    key = monster_key(revision=revision, size=size, name_hash=name_hash, fmt=fmt, style=style)
    etag = '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'
    return Address(
        name_hash=name_hash, size=size, revision=revision, key=key, etag=etag, fmt=fmt, style=style
    )


def keys_of(specs: Iterable[Spec]) -> dict[str, Spec]:
    """Cache key -> spec under the current art, one per distinct spec, in order."""
    return {
        monster_key(
            revision=current_revision(style), size=size, name_hash=name_hash, fmt=fmt, style=style
        ): Spec(name_hash, size, fmt, style)
        for name_hash, size, fmt, style in specs
    }
