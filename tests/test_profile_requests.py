"""bench/profile_requests.py: each scenario's requests get the answer it profiles."""

from __future__ import annotations

import pytest

from bench import profile_requests
from identidock.wsgi import application

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("scenario", profile_requests.SCENARIOS)
def test_every_scenario_is_answered_as_it_should_be(renderer_server, settings, scenario):
    # as the profile runs: one client, no rate limits
    settings.RATE_LIMIT_MISSES_PER_MINUTE = settings.RATE_LIMIT_MISS_BURST = 10_000
    settings.RATE_LIMIT_NAMES_PER_MINUTE = settings.RATE_LIMIT_NAME_BURST = 10_000
    settings.RATE_LIMIT_NAMES_GLOBAL_PER_MINUTE = settings.RATE_LIMIT_NAMES_GLOBAL_BURST = 10_000
    request = profile_requests.requests_of(scenario)
    profile_requests.run(application, request, profile_requests.HASHES, start=0)  # warm
    status = profile_requests.run(application, request, 3, start=profile_requests.HASHES)
    assert status == ("304 Not Modified" if scenario == "not_modified" else "200 OK")


def test_a_request_that_fails_stops_the_profile(renderer_server):
    with pytest.raises(SystemExit, match="answered 404"):
        profile_requests.run(application, lambda n: profile_requests.environ_for("/nope"), 1, 0)
