"""No answer tells a cached image from an uncached one without spending a render token.

Through the shipped WSGI stack (the front layer and Django behind it): each probe that
costs nothing (a body, a 304 by an ETag anyone can compute, a bad size, an old revision)
is answered alike for a cached and an uncached image, and renders, caches and records
nothing. A GET or HEAD of a miss spends a token like any render; `X-Cache` then says
MISS, as documented. The one difference that stays is by design (docs/security.md, "The
cache oracle"): a client over its limit still gets hits, and 429 for misses.
"""

from __future__ import annotations

import pytest

from identidock.wsgi import application
from monsters.images import identity, keys
from monsters.models import Generation
from tests import per_run, wsgi_calls

pytestmark = pytest.mark.django_db(transaction=True)

CACHED = identity.hash_name("Moby Dock")
UNCACHED = identity.hash_name("Ada Lovelace")


def call(name_hash: str, query: str = "", method: str = "GET", body: bytes = b"", **headers):
    extra = dict(headers)
    if body:
        extra["CONTENT_LENGTH"] = str(len(body))
        extra["CONTENT_TYPE"] = "application/octet-stream"
    return wsgi_calls.call(application, f"/monster/{name_hash}", query, method, body, **extra)


def shape(answer, name_hash: str) -> tuple:
    """An answer with what its hash alone decides (the hash, its ETag) and the request's
    own id left out: what could differ between a cached and an uncached image."""
    status, headers, body = answer
    etag = keys.locate(name_hash=name_hash, size=80).etag

    def plain(text: str) -> str:
        return text.replace(etag, "<etag>").replace(name_hash, "<hash>")

    kept = [(name, plain(value)) for name, value in headers if name != "X-Request-ID"]
    return status, kept, plain(body.decode("latin-1"))


def current() -> str:
    return f"size=80&v={keys.current_revision()}"


@pytest.fixture
def one_cached(renderer_server, settings):
    """CACHED is in the cache, UNCACHED is not; the renderer has drawn one monster, and
    the client has one token left."""
    settings.RATE_LIMIT_MISS_BURST = 2
    settings.RATE_LIMIT_MISSES_PER_MINUTE = 1  # no refill to speak of during a test
    status, headers, _ = call(CACHED, current())
    assert (status, dict(headers)["X-Cache"]) == ("200 OK", "MISS")
    assert renderer_server.count == 1
    return renderer_server


def _spent_nothing(renderer) -> None:
    assert renderer.count == 1  # only the fixture's render
    assert Generation.objects.filter(name_hash=UNCACHED).count() == 0
    assert all(UNCACHED.encode() not in key for key in per_run.cached_keys())


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize(
    ("probe", "expected"),
    [
        ({"body": b"abc"}, "400 Bad Request"),
        ({"query": "size=8"}, "400 Bad Request"),
        ({"query": "size=80&v=an-old-revision"}, "302 Found"),
        ({"query": "CURRENT", "etag": True}, "304 Not Modified"),
        ({"query": "", "etag": True}, "304 Not Modified"),
    ],
    ids=["body", "bad-size", "old-revision", "304-versioned", "304-unversioned"],
)
def test_a_probe_that_costs_nothing_answers_alike_cached_or_not(
    one_cached, method, probe, expected
):
    answers = {}
    for name_hash in (CACHED, UNCACHED):
        query = probe.get("query", "").replace("CURRENT", current())
        headers = {}
        if probe.get("etag"):
            # Anyone can compute an image's ETag from its hash: no fetch needed.
            headers["If_None_Match"] = keys.locate(name_hash=name_hash, size=80).etag
        answer = call(name_hash, query, method, probe.get("body", b""), **headers)
        answers[name_hash] = shape(answer, name_hash)
    assert answers[CACHED] == answers[UNCACHED]
    assert answers[CACHED][0] == expected
    _spent_nothing(one_cached)
    # Nor a token: the client's last one still draws a monster.
    assert call(UNCACHED, current())[0] == "200 OK"


def test_a_304_of_an_uncached_image_is_the_304_of_a_cached_one(one_cached):
    etag = keys.locate(name_hash=UNCACHED, size=80).etag
    before = shape(call(UNCACHED, current(), If_None_Match=etag), UNCACHED)
    _spent_nothing(one_cached)
    assert call(UNCACHED, current())[0] == "200 OK"  # the last token: cached now
    after = shape(call(UNCACHED, current(), If_None_Match=etag), UNCACHED)
    assert before == after
    assert before[0] == "304 Not Modified" and before[2] == ""


def test_a_hit_and_a_miss_differ_in_x_cache_alone(renderer_server):
    miss = shape(call(UNCACHED, current()), UNCACHED)
    hit = shape(call(UNCACHED, current()), UNCACHED)
    assert ("X-Cache", "MISS") in miss[1] and ("X-Cache", "HIT") in hit[1]
    unmarked = [
        (answer[0], [h for h in answer[1] if h[0] != "X-Cache"], answer[2])
        for answer in (miss, hit)
    ]
    assert unmarked[0] == unmarked[1]  # status, every other header in order, the bytes


def test_head_of_a_miss_renders_and_spends_a_token_as_get_does(renderer_server, settings):
    settings.RATE_LIMIT_MISS_BURST = 1
    settings.RATE_LIMIT_MISSES_PER_MINUTE = 1
    status, headers, body = call(UNCACHED, current(), "HEAD")
    assert (status, dict(headers)["X-Cache"], body) == ("200 OK", "MISS", b"")
    assert renderer_server.count == 1
    assert Generation.objects.filter(name_hash=UNCACHED).count() == 1
    # Its one token is spent: the next miss is refused.
    assert call(CACHED, current())[0] == "429 Too Many Requests"
    # And a GET of it now is a hit whose length the HEAD announced.
    status, got, image = call(UNCACHED, current())
    assert dict(got)["X-Cache"] == "HIT"
    assert dict(headers)["Content-Length"] == dict(got)["Content-Length"] == str(len(image))


def test_head_and_get_of_a_miss_answer_with_the_same_headers(renderer_server):
    head = shape(call(UNCACHED, current(), "HEAD"), UNCACHED)
    per_run.empty_monster_cache()
    get = shape(call(UNCACHED, current()), UNCACHED)
    assert head[:2] == get[:2]
    assert head[2] == "" and get[2] != ""


# --- By design: hits are free, even over the limit ------------------------------------


def test_over_the_limit_a_hit_is_served_and_a_miss_refused(one_cached):
    """The remaining oracle, kept on purpose (docs/security.md): a client that has
    spent its tokens learns whether an image is cached (200 HIT) or not (429)."""
    assert call(UNCACHED, current())[0] == "200 OK"  # the last token: UNCACHED is drawn
    other = identity.hash_name("Grace Hopper")
    refused = call(other, current())
    assert refused[0] == "429 Too Many Requests"
    status, headers, _ = call(CACHED, current())
    assert (status, dict(headers)["X-Cache"]) == ("200 OK", "HIT")
    # The refusal drew, cached and recorded nothing.
    assert one_cached.count == 2
    assert not Generation.objects.filter(name_hash=other).exists()


def test_a_refusal_is_the_same_whichever_uncached_image_was_asked_for(one_cached):
    call(UNCACHED, current())  # the last token
    refusals = [
        shape(call(identity.hash_name(name), current()), identity.hash_name(name))
        for name in ("Grace Hopper", "Alan Turing")
    ]
    assert refusals[0][0] == "429 Too Many Requests"
    without_clock = [
        (status, [h for h in headers if h[0] not in ("RateLimit", "Retry-After")], body)
        for status, headers, body in refusals
    ]
    assert without_clock[0] == without_clock[1]
