"""Rate limits on what costs: token buckets in Redis, shared by every process and
replica, one bucket per client and scope.

A bucket holds up to `burst` tokens and refills at `per_minute` a minute; each call
takes one. Over the limit the caller answers 429 with Retry-After and the IETF httpapi
draft's RateLimit-Policy / RateLimit headers. With Redis unreachable the limiter fails
open (the Redis breaker logs the outage once): refusing everyone because the cache is
down would be worse than serving a few renders too many. Without Redis at all (the
embedded defaults) the buckets live in this process.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from monsters.guards import cache

# Takes one token from the bucket KEYS[1] (ARGV: rate in tokens a second, burst, now in
# seconds) and leaves `allowed` (0|1), `tokens` (left) and `wait` (ms until a token) to
# the script it begins: this module's, or one that does more in the same round trip
# (admission.py).
BUCKET_LUA = """
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]) or burst, tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= 1 then tokens = tokens - 1; allowed = 1 end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst / rate) * 1000) + 1000)
local wait = 0
if tokens < 1 then wait = math.ceil((1 - tokens) / rate * 1000) end
"""
# Returns {allowed, tokens left (floor), wait}.
_BUCKET_SCRIPT = BUCKET_LUA + "return {allowed, math.floor(tokens), wait}\n"


@dataclass(frozen=True)
class Limit:
    scope: str  # names the policy in the headers: "misses", "names"
    per_minute: int
    burst: int


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: Limit
    remaining: int
    retry_after: float  # seconds until the next token

    def headers(self) -> list[tuple[str, str]]:
        """RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers), and
        Retry-After when refused.

        The draft's policy is a quota `q` per window `w`; a token bucket is that quota
        (per_minute a minute) plus how many may come at once. The draft has no
        parameter for the latter, and Structured Fields let a member carry parameters of
        its own, which clients that do not know them ignore: `burst`. `r` in RateLimit
        is what may be taken right now (the tokens in the bucket, at most the burst)."""
        reset = max(1, math.ceil(self.retry_after)) if not self.allowed else 0
        limit = self.limit
        headers = [
            ("RateLimit-Policy", f'"{limit.scope}";q={limit.per_minute};w=60;burst={limit.burst}'),
            ("RateLimit", f'"{self.limit.scope}";r={self.remaining};t={reset}'),
        ]
        if not self.allowed:
            headers.append(("Retry-After", str(reset)))
        return headers


def take(limit: Limit, client: str) -> Decision:
    """Take one token from `client`'s bucket for `limit`."""
    try:
        allowed, remaining, wait_ms = cache.run_script(
            _BUCKET_SCRIPT, keys=[bucket_name(limit, client)], args=bucket_args(limit)
        )
    except cache.CacheUnavailable:
        return open_decision(limit)
    except cache.NoScripting:
        return take_locally(limit, client)
    return decision(limit, allowed, remaining, wait_ms)


def bucket_name(limit: Limit, client: str) -> str:
    return f"ratelimit:{limit.scope}:{client}"


def bucket_args(limit: Limit) -> list[float]:
    """BUCKET_LUA's ARGV: the rate in tokens a second, the burst, and now."""
    return [limit.per_minute / 60, limit.burst, time.time()]


def decision(limit: Limit, allowed: int, remaining: int, wait_ms: int) -> Decision:
    """The Decision from what BUCKET_LUA left."""
    return Decision(
        allowed=bool(allowed), limit=limit, remaining=int(remaining), retry_after=wait_ms / 1000
    )


def open_decision(limit: Limit) -> Decision:
    """Redis cannot be reached: the limiter fails open."""
    return Decision(allowed=True, limit=limit, remaining=limit.burst, retry_after=0.0)


def take_locally(limit: Limit, client: str) -> Decision:
    """The bucket in this process's memory, for the embedded defaults (no Redis)."""
    rate = limit.per_minute / 60
    return decision(limit, *_local_take(bucket_name(limit, client), rate, limit.burst))


_local: dict[str, tuple[float, float]] = {}
_local_lock = threading.Lock()


def _local_take(name: str, rate: float, burst: int) -> tuple[int, int, int]:
    """The same bucket in this process's memory, for the embedded defaults."""
    now = time.monotonic()
    with _local_lock:
        tokens, at = _local.get(name, (float(burst), now))
        tokens = min(burst, tokens + (now - at) * rate)
        allowed = tokens >= 1
        if allowed:
            tokens -= 1
        _local[name] = (tokens, now)
    wait_ms = 0 if tokens >= 1 else math.ceil((1 - tokens) / rate * 1000)
    return int(allowed), math.floor(tokens), wait_ms
