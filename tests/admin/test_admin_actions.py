"""The changelist actions "Warm into cache" and "Evict from cache", end to end."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.contrib import messages

from monsters.admin import generation as generation_admin
from monsters.images import keys, service
from monsters.models import Generation
from monsters.warming import workers

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
    return bool(service.cached_specs([keys.Spec(row.name_hash, row.size, row.format)]))


def cache(row: Generation) -> None:
    service.get_picture(keys.locate(name_hash=row.name_hash, size=row.size))


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
    cache(cached)
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


def test_warm_stops_asking_a_renderer_that_is_plainly_down(
    admin_client, bad_renderer, make_generation
):
    bad_renderer.mode = "error"
    rows = [make_generation() for _ in range(40)]
    [(level, text)] = run_action(admin_client, "warm_into_cache", rows)
    assert level == messages.WARNING
    tried = bad_renderer.hits
    assert tried < len(rows) // 2  # stopped after a few failures, not one per row
    assert text.startswith(
        f"0 warmed, 0 already cached, {tried} failed, {len(rows) - tried} not tried "
        "(the renderer is down)."
    )
    assert "renderer answered status 500" in text


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
    cache(cached)
    rows_before = Generation.objects.count()
    assert run_action(admin_client, "evict_from_cache", [cached, never_cached]) == [
        (messages.SUCCESS, "1 evicted, 1 were not cached. The audit log keeps its rows.")
    ]
    assert not is_cached(cached)
    assert Generation.objects.count() == rows_before


def test_the_actions_warm_and_evict_the_format_each_row_names(
    admin_client, renderer_server, make_generation
):
    svg, webp = make_generation(format="svg"), make_generation(format="webp")
    assert run_action(admin_client, "warm_into_cache", [svg, webp]) == [
        (messages.SUCCESS, "2 warmed, 0 already cached, 0 failed.")
    ]
    assert is_cached(svg) and is_cached(webp)
    assert not service.cached_specs([keys.Spec(svg.name_hash, svg.size)])  # no PNG
    recorded = Generation.objects.filter(origin=Generation.Origin.ADMIN)
    assert sorted(recorded.values_list("format", flat=True)) == ["svg", "webp"]
    run_action(admin_client, "evict_from_cache", [svg, webp])
    assert not is_cached(svg) and not is_cached(webp)


def test_an_svg_row_of_art_we_do_not_draw_fails_to_warm_with_the_reason(
    admin_client, renderer_server, settings, make_generation
):
    settings.DNMONSTER_REVISION = "amouat-1.0"
    [(level, message)] = run_action(
        admin_client, "warm_into_cache", [make_generation(format="svg")]
    )
    assert level == messages.WARNING
    assert "0 warmed, 0 already cached, 1 failed" in message and "amouat-1.0" in message


def test_an_evicted_monster_is_generated_again_on_the_next_request(
    admin_client, client, renderer_server, make_generation
):
    row = make_generation()
    cache(row)
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


def test_warm_waits_out_a_stuck_renderer_once_not_once_per_row(
    admin_client, bad_renderer, make_generation
):
    bad_renderer.mode = "hang"  # each request hangs past the 0.5 s read timeout
    rows = [make_generation() for _ in range(40)]
    [(level, text)] = run_action(admin_client, "warm_into_cache", rows)
    assert level == messages.WARNING
    assert "(the renderer is down)" in text
    # The first wave of workers times out together; the queued rows are skipped.
    assert bad_renderer.hits <= workers.RENDERER_DOWN_AFTER + generation_admin.ACTION_CONCURRENCY


def test_thumbnails_come_from_the_staff_route_and_record_admin_renders(
    admin_client, renderer_server, make_generation
):
    row = make_generation(origin=Generation.Origin.WEB, size=80)
    html = admin_client.get(CHANGELIST).content.decode()
    src = f"/admin/monsters/generation/monster/{row.name_hash}?size=40&amp;v="
    assert src in html
    url = html[html.index(src) :].split('"')[0].replace("&amp;", "&")
    response = admin_client.get(url)
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "image/png"
    assert response["X-Cache"] == "MISS"
    assert response["Cache-Control"].startswith("private,")
    thumbnail = Generation.objects.get(size=40)
    assert thumbnail.origin == Generation.Origin.ADMIN
    assert admin_client.get(url)["X-Cache"] == "HIT"


def test_a_staff_thumbnail_hit_costs_one_cache_read_and_no_render(
    admin_client, renderer_server, make_generation, django_assert_max_num_queries
):
    row = make_generation()
    url = f"/admin/monsters/generation/monster/{row.name_hash}?size=40"
    admin_client.get(url)
    calls = renderer_server.count
    # The session and user lookups of any admin page; no audit-log query, no render.
    with django_assert_max_num_queries(2):
        assert admin_client.get(url)["X-Cache"] == "HIT"
    assert renderer_server.count == calls


def test_the_staff_image_route_is_for_staff_only(client, viewer_client, make_generation):
    row = make_generation()
    url = f"/admin/monsters/generation/monster/{row.name_hash}?size=40"
    assert client.get(url).status_code == HTTPStatus.FOUND  # to the login page
    assert "/admin/login/" in client.get(url)["Location"]
    assert viewer_client.get(url).status_code == HTTPStatus.OK
