"""The image path of a made-up guest's monster, a monster of its own for every `n`: what
the rate limit and hardening tests ask for when each request must be a miss of its own."""

from __future__ import annotations

from monsters.images import identity


def monster(n: int | str) -> str:
    return f"/monster/{identity.hash_name(f'guest {n}')}"
