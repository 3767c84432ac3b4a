"""Single flight: of concurrent misses of one image, one renders and the others wait.

A short lock in the cache's Redis (a local lock with local memory) names the leader.
The lock may be asked for ahead, in the round trip that takes the miss's rate-limit
token (admission.py): its answer is then a `Claim`, which `leadership` honours.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

import redis
from django_redis.cache import RedisCache

from monsters.guards.cache import CacheUnavailable, guarded, monster_cache


class Flight:
    """One caller's part in a single flight: `leader` renders, the others wait."""

    def __init__(self, leader: bool) -> None:
        self.leader = leader
        self.done = False

    def succeeded(self) -> None:
        """The leader stored its image: keep the lock until it expires, so that callers
        who missed a moment ago wait for the cache rather than render again."""
        self.done = True


@dataclass(frozen=True)
class Claim:
    """The answer to a lock asked for ahead of `leadership`, in Redis: whether it was
    taken, and with which token (None when Redis could not be reached: every caller
    leads)."""

    leader: bool
    token: str | None


def new_token() -> str:
    """A lock holder's token: 128 random bits. redis-py's own default, uuid1(), asks
    libuuid for the time and the node on every miss, a cost a random token does not
    have."""
    return uuid.uuid4().hex


@contextlib.contextmanager
def leadership(name: str, *, seconds: float, claim: Claim | None = None) -> Iterator[Flight]:
    """A short lock named `name`, for single flight: its holder (for at most `seconds`,
    in case it dies) is the leader, the others are not. A leader that fails frees the
    lock at once. With Redis unreachable every caller leads: nobody can coordinate,
    nobody should wait. `claim`: the lock was asked for already; only freeing it is
    left to do here."""
    backend = monster_cache()
    if not isinstance(backend, RedisCache):
        local = _local_locks.setdefault(name, threading.Lock())
        flight = Flight(local.acquire(blocking=False))
        try:
            yield flight
        finally:
            if flight.leader:
                local.release()
                _local_locks.pop(name, None)
        return
    # Making the lock object talks to nobody; acquiring and releasing it are calls.
    lock = cast(RedisCache, backend).lock(name, timeout=seconds, thread_local=False)
    if claim is None:
        token = new_token()
        try:
            taken = guarded(lambda _: lock.acquire(blocking=False, token=token), writes=True)
            claim = Claim(bool(taken), token)
        except CacheUnavailable:
            claim = Claim(leader=True, token=None)
    flight = Flight(claim.leader)
    try:
        yield flight
    finally:
        if flight.leader and not flight.done and claim.token is not None:
            with contextlib.suppress(redis.RedisError, RuntimeError):
                # (redis-py's release() by the token we hold, whoever acquired it.)
                lock.do_release(claim.token)  # expired meanwhile: not ours to free any more


_local_locks: dict[str, threading.Lock] = {}
