"""The bare miss for bench/miss_bench.py: the least a miss can cost in Python here.

A bare WSGI app that does what the issue's target allows a miss ("a Redis SET and one
audit write, no more"), and nothing else: ask the renderer for the monster of the
path's hash over a kept-alive urllib3 pool (as our client does), SET the bytes in Redis
(redis-py with hiredis, as django-redis uses it), answer them. No Django, no
validation, no rate limit, no single flight, no audit row (ours are written behind the
answer, a batch at a time: per miss they cost little). What Identidock's miss spends
above this is Django, our guarantees and our code; what this spends is gunicorn, the
two round trips and the renderer.

    MISS_FLOOR_RENDERER=http://127.0.0.1:PORT MISS_FLOOR_REDIS=redis://127.0.0.1:6379/14 \\
        gunicorn -c gunicorn.conf.py --bind 127.0.0.1:PORT bench.miss_floor_app:app
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

import redis
import urllib3

RENDERER = os.environ["MISS_FLOOR_RENDERER"].rstrip("/")
# Under its own prefix: the bench's Identidock shares the Redis database.
KEY_PREFIX = "miss-floor:"
TIMEOUT = urllib3.Timeout(connect=1.0, read=3.0)

_renderer = urllib3.PoolManager(maxsize=8, retries=False)
_redis = redis.Redis.from_url(os.environ["MISS_FLOOR_REDIS"])


def app(environ: dict[str, object], start_response: Callable[..., object]) -> Iterable[bytes]:
    path = str(environ.get("PATH_INFO", ""))
    query = str(environ.get("QUERY_STRING", ""))
    name_hash = path.rsplit("/", 1)[-1]
    response = _renderer.urlopen("GET", f"{RENDERER}/monster/{name_hash}?{query}", timeout=TIMEOUT)
    image = response.data
    if response.status != 200:
        start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
        return [b"renderer answered %d\n" % response.status]
    _redis.set(KEY_PREFIX + name_hash, image, ex=60)
    start_response("200 OK", [("Content-Type", "image/png"), ("Content-Length", str(len(image)))])
    return [image]
