"""What names an image: the one home of cache keys and ETags.

    Spec     what is asked for: a hash, a size and a format, whatever the art
    Address  a Spec under the current art: its revision, cache key and strong ETag,
             known without touching the cache

Nothing but this module builds a cache key or an ETag.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from monsters.guards import sources
from monsters.images import formats
from monsters.per_settings import per_settings

KEY_SCHEMA = "v1"


class Spec(NamedTuple):
    """One image, whatever the art: the monster of `name_hash` at `size` px, in format
    `fmt`."""

    name_hash: str
    size: int
    fmt: str = formats.PNG


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

    @property
    def spec(self) -> Spec:
        return Spec(self.name_hash, self.size, self.fmt)


def current_revision() -> str:
    """The revision of the art the configured renderer draws (`builtin-r1`, ...)."""
    return sources.get_source().revision


def monster_key(*, revision: str, size: int, name_hash: str, fmt: str = formats.PNG) -> str:
    """`monster:v1:<revision>:<size>:<hash>` for PNG (the key from before formats), with
    `.svg` or `.webp` after it for the others."""
    suffix = "" if fmt == formats.PNG else f".{fmt}"
    return f"monster:{KEY_SCHEMA}:{revision}:{size}:{name_hash}{suffix}"


def locate(*, name_hash: str, size: int, fmt: str = formats.PNG) -> Address:
    """The address of one image under the current art. The ETag is derived from the
    key, so it names the revision, the size, the hash and the format."""
    return _located(name_hash, size, fmt)


# Every hit asks for its image's address: the most recent ones are kept (a few MB).
@per_settings(maxsize=4096)
def _located(name_hash: str, size: int, fmt: str) -> Address:
    revision = current_revision()
    key = monster_key(revision=revision, size=size, name_hash=name_hash, fmt=fmt)
    etag = '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'
    return Address(name_hash=name_hash, size=size, revision=revision, key=key, etag=etag, fmt=fmt)


def keys_of(specs: Iterable[Spec]) -> dict[str, Spec]:
    """Cache key -> spec under the current art, one per distinct spec, in order."""
    revision = current_revision()
    return {
        monster_key(revision=revision, size=size, name_hash=name_hash, fmt=fmt): Spec(
            name_hash, size, fmt
        )
        for name_hash, size, fmt in specs
    }
