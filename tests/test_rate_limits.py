"""Rate limits on what costs: misses and the page's POST each with a bucket per client
(only a trusted proxy names the client, and every spelling of an address is one client),
the form's budget across every client, and a refused render neither cached nor audited."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from monsters.guards import clients, rate_limit
from monsters.images import identity, keys, service
from monsters.models import Generation
from tests.cache_points import point_cache_at
from tests.form_client import FormClient
from tests.guest_monsters import monster
from tests.ports import free_port

pytestmark = pytest.mark.django_db


# --- Rate limits -----------------------------------------------------------------------


def test_misses_beyond_the_burst_get_429_with_retry_after_and_ratelimit_headers(
    client, renderer_server, settings
):
    settings.RATE_LIMIT_MISS_BURST = 5
    settings.RATE_LIMIT_MISSES_PER_MINUTE = 1  # no refill to speak of, however slow the box
    answers = [client.get(monster(n)) for n in range(7)]
    assert [a.status_code for a in answers] == [HTTPStatus.OK] * 5 + [
        HTTPStatus.TOO_MANY_REQUESTS
    ] * 2
    refused = answers[-1]
    assert 1 <= int(refused["Retry-After"]) <= 60  # a token a minute
    # The quota a minute, and the burst the bucket allows at once.
    assert refused["RateLimit-Policy"] == '"misses";q=1;w=60;burst=5'
    assert refused["RateLimit"].startswith('"misses";r=0;t=')
    assert refused["Cache-Control"] == "no-store"
    assert renderer_server.count == 5
    assert Generation.objects.count() == 5


def test_the_policy_header_states_the_rate_and_the_burst_of_the_defaults():
    limit = rate_limit.Limit("misses", per_minute=120, burst=30)
    decision = rate_limit.Decision(allowed=True, limit=limit, remaining=29, retry_after=0.0)
    headers = dict(decision.headers())
    assert headers["RateLimit-Policy"] == '"misses";q=120;w=60;burst=30'
    assert headers["RateLimit"] == '"misses";r=29;t=0'


def test_hits_and_304s_are_never_limited(client, renderer_server, settings):
    settings.RATE_LIMIT_MISS_BURST = 1
    first = client.get(monster(0))
    for _ in range(20):
        assert client.get(monster(0))["X-Cache"] == "HIT"
        again = client.get(monster(0), HTTP_IF_NONE_MATCH=first["ETag"])
        assert again.status_code == HTTPStatus.NOT_MODIFIED


def test_each_client_has_its_own_bucket_and_only_the_proxy_names_it(
    client, renderer_server, settings
):
    settings.RATE_LIMIT_MISS_BURST = 2
    settings.RATE_LIMIT_MISSES_PER_MINUTE = 1
    settings.FORWARDED_ALLOW_IPS = ["127.0.0.1"]  # the test client's REMOTE_ADDR
    via_proxy = [
        client.get(monster(n), HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code for n in range(6)
    ]
    assert set(via_proxy) == {HTTPStatus.OK}  # six clients, one miss each
    settings.FORWARDED_ALLOW_IPS = ["10.9.9.9"]  # now the peer is nobody we trust
    spoofed = [
        client.get(monster(f"x{n}"), HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
        for n in range(4)
    ]
    assert spoofed.count(HTTPStatus.TOO_MANY_REQUESTS) == 2  # one bucket: the peer's


def test_the_limiter_fails_open_while_redis_is_down(client, renderer_server, settings):
    settings.RATE_LIMIT_MISS_BURST = 1
    point_cache_at(settings, f"redis://127.0.0.1:{free_port()}/0")
    statuses = {client.get(monster(n)).status_code for n in range(4)}
    assert statuses == {HTTPStatus.OK}


def test_the_page_post_has_a_looser_limit_of_its_own(client, settings):
    settings.RATE_LIMIT_NAME_BURST = 3
    settings.RATE_LIMIT_NAMES_PER_MINUTE = 1  # no refill to speak of during the test
    settings.RATE_LIMIT_MISS_BURST = 1  # the image limit does not apply to the page
    statuses = [client.post("/", {"name": f"guest {n}"}).status_code for n in range(4)]
    assert statuses == [HTTPStatus.OK] * 3 + [HTTPStatus.TOO_MANY_REQUESTS]


def test_a_refused_render_is_neither_cached_nor_audited(client, renderer_server, settings):
    settings.RATE_LIMIT_MISS_BURST = 1
    settings.RATE_LIMIT_MISSES_PER_MINUTE = 1
    client.get(monster(1))
    refused = client.get(monster(2))
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    name_hash = identity.hash_name("guest 2")
    assert not service.cached_specs([keys.Spec(name_hash, 80)])
    assert not Generation.objects.filter(name_hash=name_hash).exists()


# --- Client addresses ------------------------------------------------------------------


@pytest.mark.parametrize(
    "spellings",
    [
        ["127.0.0.1", "::ffff:127.0.0.1", "::ffff:7f00:1"],
        ["::1", "0::1", "0:0:0:0:0:0:0:1", "::2"],
        ["2001:db8:1:2::9", "2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:0db8:0001:0002::"],
    ],
    ids=["IPv4 and IPv4-mapped", "IPv6 loopback", "one IPv6 /64"],
)
def test_every_spelling_of_a_client_is_one_key(spellings):
    assert len({clients.normalised(spelling) for spelling in spellings}) == 1


def test_an_ipv6_client_is_known_by_its_64_and_neighbouring_64s_apart():
    assert clients.normalised("2001:db8:1:2::9") == "2001:db8:1:2::"
    assert clients.normalised("2001:db8:1:3::9") == "2001:db8:1:3::"


def test_a_client_cannot_get_a_fresh_bucket_by_respelling_its_address(
    client, renderer_server, settings
):
    settings.RATE_LIMIT_MISS_BURST = 2
    settings.RATE_LIMIT_MISSES_PER_MINUTE = 1
    settings.FORWARDED_ALLOW_IPS = ["127.0.0.1"]
    spellings = ["::1", "0::1", "0:0::1", "::ffff:127.0.0.2", "127.0.0.2", "::ffff:7f00:2"]
    statuses = [
        client.get(monster(f"s{n}"), HTTP_X_FORWARDED_FOR=spelling).status_code
        for n, spelling in enumerate(spellings)
    ]
    assert statuses == [HTTPStatus.OK] * 2 + [HTTPStatus.TOO_MANY_REQUESTS] + [
        HTTPStatus.OK
    ] * 2 + [HTTPStatus.TOO_MANY_REQUESTS]


def test_a_trusted_proxy_is_recognised_in_its_ipv4_mapped_spelling(settings):
    settings.FORWARDED_ALLOW_IPS = ["127.0.0.1"]
    meta = {"REMOTE_ADDR": "::ffff:127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.5"}
    assert clients.address_from(meta) == "203.0.113.5"


# --- The form's budget across every client ---------------------------------------------


def _names_from(address: str, count: int, start: int) -> list[int]:
    client = FormClient(REMOTE_ADDR=address)
    return [client.post("/", {"name": f"guess {start + n}"}).status_code for n in range(count)]


def test_two_addresses_together_exhaust_the_global_names_budget(settings):
    settings.RATE_LIMIT_NAME_BURST = 10  # each address alone is well within its own limit
    settings.RATE_LIMIT_NAMES_GLOBAL_BURST = 6
    settings.RATE_LIMIT_NAMES_GLOBAL_PER_MINUTE = 1  # no refill to speak of during the test
    first = _names_from("192.0.2.1", 4, start=0)
    second = _names_from("192.0.2.2", 4, start=4)
    assert first == [HTTPStatus.OK] * 4
    assert second == [HTTPStatus.OK] * 2 + [HTTPStatus.TOO_MANY_REQUESTS] * 2
    # A third address, which has sent nothing yet, is refused too: the budget is everyone's.
    refused = FormClient(REMOTE_ADDR="192.0.2.3").post("/", {"name": "guess 9"})
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert refused["RateLimit-Policy"] == '"names-global";q=1;w=60;burst=6'
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["Cache-Control"] == "no-store"


def test_a_client_over_its_own_limit_spends_nothing_of_the_global_budget(settings):
    settings.RATE_LIMIT_NAME_BURST = 2
    settings.RATE_LIMIT_NAMES_PER_MINUTE = 1
    settings.RATE_LIMIT_NAMES_GLOBAL_BURST = 4
    settings.RATE_LIMIT_NAMES_GLOBAL_PER_MINUTE = 1
    greedy = _names_from("192.0.2.1", 6, start=0)
    assert greedy == [HTTPStatus.OK] * 2 + [HTTPStatus.TOO_MANY_REQUESTS] * 4
    # Its four refusals came from its own bucket: two names of the global four remain.
    assert _names_from("192.0.2.2", 3, start=6) == [HTTPStatus.OK] * 2 + [
        HTTPStatus.TOO_MANY_REQUESTS
    ]


def test_viewing_the_form_spends_no_name_token(client, settings):
    settings.RATE_LIMIT_NAMES_GLOBAL_BURST = 1
    settings.RATE_LIMIT_NAMES_GLOBAL_PER_MINUTE = 1
    assert {client.get("/").status_code for _ in range(5)} == {HTTPStatus.OK}
    assert client.post("/", {"name": "Moby Dock"}).status_code == HTTPStatus.OK
