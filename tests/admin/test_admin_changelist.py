"""The audit-log changelist: columns, order, filters, search and its query budget."""

from __future__ import annotations

import datetime
import re
from http import HTTPStatus

import pytest
from django.db import connection
from django.utils import timezone

from monsters.admin.changelist import search_condition
from monsters.admin.generation import GenerationAdmin
from monsters.images import identity, keys
from monsters.models import Generation

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/monsters/generation/"


def shown_pks(response) -> list[int]:
    return [row.pk for row in response.context["cl"].result_list]


def test_changelist_lists_rows_newest_first(admin_client, make_generations):
    rows = make_generations(3)
    response = admin_client.get(CHANGELIST)
    assert response.status_code == HTTPStatus.OK
    assert shown_pks(response) == [row.pk for row in reversed(rows)]


def test_changelist_shows_a_lazy_thumbnail_of_the_monster(admin_client, make_generation):
    row = make_generation()
    response = admin_client.get(CHANGELIST)
    assert (
        f'<img src="/admin/monsters/generation/monster/{row.name_hash}?size=40&amp;v='
        f'{keys.current_revision()}" loading="lazy" width="40" height="40" alt="">'
        in response.content.decode()
    )


def test_changelist_shortens_the_hash_and_keeps_it_whole_in_a_title(admin_client, make_generation):
    row = make_generation()
    response = admin_client.get(CHANGELIST)
    assert f'<code title="{row.name_hash}">{row.name_hash[:12]}</code>' in response.content.decode()


def test_changelist_shows_every_column(admin_client, make_generation):
    row = make_generation(size=160, source="builtin", png_bytes=1234, render_ms=3.25)
    content = admin_client.get(CHANGELIST).content.decode()
    headers = re.findall(r'<div class="text">(?:<span>|<a [^>]*>)([^<]+)<', content)
    assert headers == [
        "Monster",
        "Hash",
        "Size",
        "Format",
        "Source",
        "Origin",
        "Bytes",
        "Render ms",
        "Created at",
    ]
    cells = dict(re.findall(r'<td class="field-(\w+)[^"]*">([^<]*)</td>', content))
    assert cells["size"] == "160"
    assert cells["format"] == "PNG"
    assert cells["source"] == "builtin"
    assert cells["origin"] == "Web"
    assert cells["bytes_display"] == "1,234"
    assert cells["render_ms_display"] == "3.2"
    assert cells["created_display"] == f"{row.created_at:%Y-%m-%d %H:%M:%S}"


def test_changelist_pages_by_100_without_a_full_count(admin_client, make_generations):
    make_generations(101)
    response = admin_client.get(CHANGELIST)
    changelist = response.context["cl"]
    assert len(changelist.result_list) == 100
    assert changelist.full_result_count is None


@pytest.mark.parametrize(
    ("parameter", "value", "expected_field"),
    [
        ("source", "builtin", {"source": "builtin"}),
        ("origin__exact", "admin", {"origin": Generation.Origin.ADMIN}),
        ("size", "160", {"size": 160}),
    ],
)
def test_each_filter_keeps_only_matching_rows(
    admin_client, make_generation, parameter, value, expected_field
):
    wanted = make_generation(**expected_field)
    make_generation(source="dnmonster", origin=Generation.Origin.WEB, size=80)
    response = admin_client.get(CHANGELIST, {parameter: value})
    assert shown_pks(response) == [wanted.pk]


def test_size_and_source_filters_offer_the_values_present(admin_client, make_generation):
    make_generation(size=40, source="builtin")
    make_generation(size=512, source="dnmonster")
    response = admin_client.get(CHANGELIST)
    filters = {spec.title: spec for spec in response.context["cl"].filter_specs}
    assert list(filters["size"].lookup_choices) == [40, 512]
    assert list(filters["source"].lookup_choices) == ["builtin", "dnmonster"]


def test_a_filter_value_of_the_wrong_type_redirects_instead_of_failing(admin_client):
    response = admin_client.get(CHANGELIST, {"size": "huge"})
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].endswith("?e=1")


def test_search_by_hash_prefix_finds_the_rows_with_that_prefix(admin_client, make_generation):
    wanted = make_generation(name_hash="ab12" + "0" * 60)
    make_generation(name_hash="ab13" + "0" * 60)
    response = admin_client.get(CHANGELIST, {"q": "ab12"})
    assert shown_pks(response) == [wanted.pk]


def test_search_by_hash_prefix_ignores_case_and_spaces(admin_client, make_generation):
    wanted = make_generation(name_hash="cafe" + "1" * 60)
    response = admin_client.get(CHANGELIST, {"q": "  CAFE "})
    assert shown_pks(response) == [wanted.pk]


def test_search_matches_only_at_the_start_of_the_hash(admin_client, make_generation):
    make_generation(name_hash="0" * 30 + "beef" + "0" * 30)
    response = admin_client.get(CHANGELIST, {"q": "beef"})
    assert shown_pks(response) == []


def test_a_name_in_the_search_box_matches_nothing(admin_client, make_generation):
    # A name would have come in the query string: the box takes hashes only.
    make_generation(name_hash=identity.hash_name("Moby Dock"))
    response = admin_client.get(CHANGELIST, {"q": "Moby Dock"})
    assert response.status_code == HTTPStatus.OK
    assert shown_pks(response) == []


def test_a_hex_looking_name_matches_only_as_a_prefix(admin_client, make_generation):
    make_generation(name_hash=identity.hash_name("abe"))
    by_prefix = make_generation(name_hash="abe" + "2" * 61)
    response = admin_client.get(CHANGELIST, {"q": "abe"})
    assert shown_pks(response) == [by_prefix.pk]


def test_a_whole_hash_finds_its_rows(admin_client, make_generation):
    wanted = make_generation(name_hash=identity.hash_name("Moby Dock"))
    make_generation(name_hash=identity.hash_name("Joe Bloggs"))
    response = admin_client.get(CHANGELIST, {"q": wanted.name_hash})
    assert shown_pks(response) == [wanted.pk]


def test_search_help_text_sends_names_to_find_by_name(admin_client):
    content = admin_client.get(CHANGELIST).content.decode()
    assert "Find by name" in content
    assert "never put in the address" in content
    assert 'href="/admin/monsters/generation/find-by-name/"' in content


def test_a_search_that_cannot_match_answers_an_empty_list(admin_client, make_generation):
    make_generation()
    response = admin_client.get(CHANGELIST, {"q": "x" * 500})  # too long to be a name
    assert response.status_code == HTTPStatus.OK
    assert shown_pks(response) == []


def test_prefix_search_is_a_startswith_lookup_not_a_contains():
    condition = search_condition("AB12")
    assert ("name_hash__startswith", "ab12") in condition.children


def test_prefix_search_can_use_the_prefix_index():
    queryset = Generation.objects.filter(search_condition("ab12"))
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # tiny tables favour a seq scan
    assert "generation_hash_prefix" in queryset.explain()


def test_date_hierarchy_offers_the_days_of_a_single_month(admin_client, make_generation):
    base = timezone.make_aware(datetime.datetime(2026, 3, 10, 12, 0))
    make_generation(created_at=base)
    make_generation(created_at=base + datetime.timedelta(days=2))
    content = admin_client.get(CHANGELIST).content.decode()
    for day in ("March 10", "March 11", "March 12"):
        assert day in content
    assert "March 13" not in content


def test_date_hierarchy_offers_months_and_then_days(admin_client, make_generation):
    make_generation(created_at=timezone.make_aware(datetime.datetime(2026, 1, 31, 12, 0)))
    make_generation(created_at=timezone.make_aware(datetime.datetime(2026, 3, 1, 12, 0)))
    top = admin_client.get(CHANGELIST).content.decode()
    assert all(month in top for month in ("January 2026", "February 2026", "March 2026"))
    month = admin_client.get(CHANGELIST, {"created_at__year": "2026", "created_at__month": "3"})
    assert shown_pks(month) and "March 1" in month.content.decode()


def test_date_hierarchy_offers_years_when_the_log_spans_several(admin_client, make_generation):
    make_generation(created_at=timezone.make_aware(datetime.datetime(2024, 12, 31, 12, 0)))
    make_generation(created_at=timezone.make_aware(datetime.datetime(2026, 1, 1, 12, 0)))
    content = admin_client.get(CHANGELIST).content.decode()
    assert all(f"created_at__year={year}" in content for year in (2024, 2025, 2026))


def test_date_hierarchy_day_filters_the_rows(admin_client, make_generation):
    wanted = make_generation(created_at=timezone.make_aware(datetime.datetime(2026, 3, 10, 9)))
    make_generation(created_at=timezone.make_aware(datetime.datetime(2026, 3, 11, 9)))
    response = admin_client.get(
        CHANGELIST,
        {"created_at__year": "2026", "created_at__month": "3", "created_at__day": "10"},
    )
    assert shown_pks(response) == [wanted.pk]


def test_an_impossible_date_redirects_instead_of_failing(admin_client):
    response = admin_client.get(
        CHANGELIST,
        {"created_at__year": "2026", "created_at__month": "2", "created_at__day": "31"},
    )
    assert response.status_code == HTTPStatus.FOUND


@pytest.mark.parametrize("page_size", [10, 100])
def test_changelist_query_count_does_not_grow_with_the_page_size(
    admin_client, make_generations, monkeypatch, django_assert_max_num_queries, page_size
):
    rows = make_generations(120, size=80)
    monkeypatch.setattr(GenerationAdmin, "list_per_page", page_size)
    # One index walk per known-values filter (source, size, style) among them.
    with django_assert_max_num_queries(8):
        admin_client.get(CHANGELIST, {"q": rows[0].name_hash[:2], "origin__exact": "web"})
    with django_assert_max_num_queries(8):
        response = admin_client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == page_size
