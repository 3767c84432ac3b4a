"""A Redis failover under load, for tests/test_redis_failover.py and bench/failover_bench.py.

    topology    a Redis primary, one replica and three sentinels: processes of our own
                on spare loopback ports, their config files in a directory we are given
    drill       a few threads asking for hits and new monsters while the primary dies,
                and the figures of what they saw (statuses, BYPASS answers and when)

Needs `redis-server` alone: `redis-server <file> --sentinel` is Sentinel itself (what
Debian's `redis-sentinel` package runs), so that package is not needed.
"""
