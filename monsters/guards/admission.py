"""A miss's admission in one Redis round trip: the client's rate-limit token and, only if
it is given, the lead of the image's single flight.

A miss asks Redis for both, one after the other, every time: the token (rate_limit.py)
and the lock (single_flight.py). One script does both in Redis instead, so a miss pays
one round trip for them, not two, and a refused client never takes a lock. The script
begins with the rate limiter's own bucket (`rate_limit.BUCKET_LUA`) and sets the lock as
redis-py's lock does (SET NX PX with the holder's token), which then frees it.

Both keys are in the one Redis the cache uses (Sentinel moves that whole server; there
is no Redis Cluster to split them). Without Redis (the embedded defaults) there is no
round trip to save: the token comes from this process's bucket and `leadership` takes
its local lock as ever. With Redis unreachable, the limiter fails open and every caller
leads, as each does on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from monsters.guards import cache, rate_limit
from monsters.guards.single_flight import Claim, new_token

# KEYS[1]: the bucket, KEYS[2]: the lock; ARGV: the bucket's (rate, burst, now), then the
# lock's token and lifetime in milliseconds. Returns {allowed, tokens left, wait, leader}.
_TOKEN_THEN_LEAD = (
    rate_limit.BUCKET_LUA
    + """
local leader = 0
if allowed == 1 and redis.call('SET', KEYS[2], ARGV[4], 'NX', 'PX', ARGV[5]) then
  leader = 1
end
return {allowed, math.floor(tokens), wait, leader}
"""
)


@dataclass(frozen=True)
class Admission:
    decision: rate_limit.Decision
    claim: Claim | None  # None: the lock is still to be asked for (`leadership` will)


def admit(limit: rate_limit.Limit, client: str, *, lock: str, seconds: float) -> Admission:
    """A token from `client`'s bucket for `limit`, then, if given, the lock `lock` for
    at most `seconds`."""
    token = new_token()
    try:
        allowed, remaining, wait_ms, leader = cache.run_script(
            _TOKEN_THEN_LEAD,
            keys=[rate_limit.bucket_name(limit, client), lock],
            args=[*rate_limit.bucket_args(limit), token, round(seconds * 1000)],
        )
    except cache.CacheUnavailable:
        return Admission(rate_limit.open_decision(limit), Claim(leader=True, token=None))
    except cache.NoScripting:
        return Admission(rate_limit.take_locally(limit, client), None)
    decision = rate_limit.decision(limit, allowed, remaining, wait_ms)
    return Admission(decision, Claim(bool(leader), token) if decision.allowed else None)
