"""A bench's load comes from one client (127.0.0.1, which nginx passes on as
X-Forwarded-For): the rate limits (per client, and the form's global budget) would answer
most of it with 429. The benches measure what a request costs, not the limits, so they
set them out of the way."""

from __future__ import annotations

NO_RATE_LIMITS = {
    name: "100000000"
    for name in (
        "RATE_LIMIT_MISSES_PER_MINUTE",
        "RATE_LIMIT_MISS_BURST",
        "RATE_LIMIT_NAMES_PER_MINUTE",
        "RATE_LIMIT_NAME_BURST",
        "RATE_LIMIT_NAMES_GLOBAL_PER_MINUTE",
        "RATE_LIMIT_NAMES_GLOBAL_BURST",
    )
}
