"""The changelist actions "Warm into cache" and "Evict from cache", end to end."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.contrib import messages

from monsters import admin as generation_admin
from monsters import cache_entries, service
from monsters.models import Generation

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/monsters/generation/"


def run_action(client, action: str, rows: list[Generation]):
    response = client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [row.pk for row in rows]},
        follow=True,
    )
    assert response.status_code == HTTPStatus.OK
    return [(message.level, message.message) for message in response.context["messages"]]


def is_cached(row: Generation) -> bool:
    return bool(cache_entries.cached_entries(entries=[(row.name_hash, row.size)]))


def test_warm_generates_the_missing_entries_and_records_them_as_admin(
    admin_client, renderer_server, make_generation
):
    rows = [make_generation(size=40), make_generation(size=160)]
    assert run_action(admin_client, "warm_into_cache", rows) == [
        (messages.SUCCESS, "2 warmed, 0 already cached, 0 failed.")
    ]
    assert all(is_cached(row) for row in rows)
    assert renderer_server.count == 2
    recorded = Generation.objects.filter(origin=Generation.Origin.ADMIN)
    assert sorted(recorded.values_list("name_hash", "size")) == sorted(
        (row.name_hash, row.size) for row in rows
    )


def test_warm_leaves_cached_entries_alone(admin_client, renderer_server, make_generation):
    cached, missing = make_generation(), make_generation()
    service.get_identicon(identifier=cached.name_hash, size=cached.size)
    calls_before = renderer_server.count
    assert run_action(admin_client, "warm_into_cache", [cached, missing]) == [
        (messages.SUCCESS, "1 warmed, 1 already cached, 0 failed.")
    ]
    assert renderer_server.count == calls_before + 1


def test_warm_counts_each_monster_once_however_many_rows_name_it(
    admin_client, renderer_server, make_generation
):
    rows = [make_generation(name_hash="d" * 64, size=80) for _ in range(3)]
    assert run_action(admin_client, "warm_into_cache", rows) == [
        (messages.SUCCESS, "1 warmed, 0 already cached, 0 failed.")
    ]
    assert renderer_server.count == 1


def test_warm_with_the_renderer_down_is_a_warning_not_an_error_page(
    admin_client, refusing_renderer, make_generation
):
    rows = [make_generation(), make_generation()]
    [(level, text)] = run_action(admin_client, "warm_into_cache", rows)
    assert level == messages.WARNING
    assert text.startswith("0 warmed, 0 already cached, 2 failed.")
    assert "renderer unreachable" in text
    assert not any(is_cached(row) for row in rows)
    assert not Generation.objects.filter(origin=Generation.Origin.ADMIN).exists()


def test_warm_stops_asking_a_renderer_that_answers_with_errors(
    admin_client, bad_renderer, make_generation
):
    bad_renderer.mode = "error"
    rows = [make_generation() for _ in range(3)]
    [(level, text)] = run_action(admin_client, "warm_into_cache", rows)
    assert level == messages.WARNING
    assert text.startswith("0 warmed, 0 already cached, 3 failed.")
    assert bad_renderer.hits == 1


def test_warm_keeps_going_past_a_single_bad_image(admin_client, bad_renderer, make_generation):
    bad_renderer.mode = "not-png"
    rows = [make_generation() for _ in range(2)]
    [(level, text)] = run_action(admin_client, "warm_into_cache", rows)
    assert level == messages.WARNING
    assert text.startswith("0 warmed, 0 already cached, 2 failed.")
    assert "not a PNG" in text
    assert bad_renderer.hits == 2


def test_evict_deletes_the_cache_entries_and_keeps_the_audit_rows(
    admin_client, renderer_server, make_generation
):
    cached, never_cached = make_generation(), make_generation()
    service.get_identicon(identifier=cached.name_hash, size=cached.size)
    rows_before = Generation.objects.count()
    assert run_action(admin_client, "evict_from_cache", [cached, never_cached]) == [
        (messages.SUCCESS, "1 evicted, 1 were not cached. The audit log keeps its rows.")
    ]
    assert not is_cached(cached)
    assert Generation.objects.count() == rows_before


def test_an_evicted_monster_is_generated_again_on_the_next_request(
    admin_client, client, renderer_server, make_generation
):
    row = make_generation()
    service.get_identicon(identifier=row.name_hash, size=row.size)
    run_action(admin_client, "evict_from_cache", [row])
    response = client.get(f"/monster/{row.name_hash}", {"size": row.size})
    assert response["X-Cache"] == "MISS"


def test_a_viewer_may_warm_and_evict(viewer_client, renderer_server, make_generation):
    row = make_generation()
    assert run_action(viewer_client, "warm_into_cache", [row]) == [
        (messages.SUCCESS, "1 warmed, 0 already cached, 0 failed.")
    ]
    assert run_action(viewer_client, "evict_from_cache", [row])[0][0] == messages.SUCCESS


def test_too_large_a_selection_is_refused_with_a_message(
    admin_client, renderer_server, make_generation, monkeypatch
):
    monkeypatch.setattr(generation_admin, "MAX_ACTION_ENTRIES", 2)
    rows = [make_generation() for _ in range(3)]
    [(level, text)] = run_action(admin_client, "warm_into_cache", rows)
    assert level == messages.ERROR
    assert "more than 2 different monsters" in text
    assert renderer_server.count == 0
