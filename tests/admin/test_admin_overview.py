"""The audit-log overview page, and the numbers and chart geometry behind it."""

from __future__ import annotations

import datetime
import re
from http import HTTPStatus

import pytest
from django.utils import timezone

from monsters.admin import chart, stats
from monsters.admin.stats import DayCount
from monsters.images import keys, service
from monsters.models import Generation

OVERVIEW = "/admin/monsters/generation/overview/"


def at(day: datetime.date, hour: int = 12) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


# The page


@pytest.mark.django_db
def test_admin_index_links_to_the_overview(admin_client):
    assert f'href="{OVERVIEW}"' in admin_client.get("/admin/").content.decode()


@pytest.mark.django_db
def test_changelist_links_to_the_overview(admin_client):
    assert f'href="{OVERVIEW}"' in admin_client.get("/admin/monsters/generation/").content.decode()


@pytest.mark.django_db
def test_overview_shows_totals_and_distinct_hashes(admin_client, make_generation):
    make_generation(name_hash="a" * 64, size=80)
    make_generation(name_hash="a" * 64, size=160)
    make_generation(name_hash="b" * 64)
    response = admin_client.get(OVERVIEW)
    assert response.status_code == HTTPStatus.OK
    assert response.context["total"] == 3
    assert response.context["distinct_hashes"] == 2
    content = response.content.decode()
    assert '<span class="stat-value">3</span><span class="stat-label">generations in all' in content
    assert '<span class="stat-value">2</span><span class="stat-label">different monsters' in content


@pytest.mark.django_db
def test_overview_draws_30_daily_bars_as_inline_svg_without_scripts(admin_client, make_generation):
    make_generation()
    content = admin_client.get(OVERVIEW).content.decode()
    svg = re.search(r'<svg class="day-chart".*?</svg>', content, re.S).group(0)
    assert len(re.findall(r'<rect class="bar"', svg)) == 30
    assert '<script src="http' not in content
    today = timezone.localdate()
    assert f"<title>{today:%a %d %b}: 1</title>" in svg


@pytest.mark.django_db
def test_overview_counts_by_source_origin_and_style(admin_client, make_generation):
    make_generation(source="builtin", origin=Generation.Origin.WARM, style="identicon")
    make_generation(source="dnmonster", origin=Generation.Origin.WEB)
    make_generation(source="dnmonster", origin=Generation.Origin.WEB)
    response = admin_client.get(OVERVIEW)
    breakdowns = {
        title: {row["label"]: row["count"] for row in rows}
        for title, rows in response.context["breakdowns"]
    }
    assert breakdowns == {
        "source": {"dnmonster": 2, "builtin": 1},
        "origin": {"Web": 2, "Cache warmer": 1},
        "style": {"monster": 2, "identicon": 1},
    }
    assert "Cache warmer" in response.content.decode()


@pytest.mark.django_db
def test_overview_shows_which_newest_monsters_are_cached(
    admin_client, renderer_server, make_generation
):
    cached = make_generation(name_hash="c" * 64, size=80)
    make_generation(name_hash="d" * 64, size=80)
    service.get_picture(
        keys.locate(name_hash=cached.name_hash, size=cached.size)
    )  # records a third row
    response = admin_client.get(OVERVIEW)
    states = {item["entry"].name_hash: item["cached"] for item in response.context["newest"]}
    assert states == {"c" * 64: True, "d" * 64: False}
    assert "1 of 2 in the cache" in response.content.decode()


@pytest.mark.django_db
def test_overview_is_for_staff_who_may_view_the_log(client, outsider_client, viewer_client):
    assert client.get(OVERVIEW).status_code == HTTPStatus.FOUND  # to the login page
    assert outsider_client.get(OVERVIEW).status_code == HTTPStatus.FORBIDDEN
    assert viewer_client.get(OVERVIEW).status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_overview_of_an_empty_log_says_so(admin_client):
    response = admin_client.get(OVERVIEW)
    assert response.status_code == HTTPStatus.OK
    assert "No generations yet." in response.content.decode()


# The numbers


@pytest.mark.django_db
def test_daily_counts_cover_30_days_oldest_first_with_zeros(make_generation):
    today = datetime.date(2026, 5, 31)
    make_generation(created_at=at(today))
    make_generation(created_at=at(today, hour=23))
    make_generation(created_at=at(today - datetime.timedelta(days=29)))
    make_generation(created_at=at(today - datetime.timedelta(days=30)))  # too old
    make_generation(created_at=at(today + datetime.timedelta(days=1)))  # after `today`
    days = stats.daily_counts(today=today)
    assert len(days) == 30
    assert days[0] == DayCount(day=datetime.date(2026, 5, 2), count=1)
    assert days[-1] == DayCount(day=today, count=2)
    assert sum(day.count for day in days) == 3


@pytest.mark.django_db
def test_newest_entries_are_distinct_hashes_newest_first(make_generation):
    now = timezone.now()
    for minute in range(25):
        make_generation(
            name_hash=f"{minute:064x}", created_at=now - datetime.timedelta(minutes=minute)
        )
    make_generation(name_hash=f"{3:064x}", size=512, created_at=now + datetime.timedelta(1))
    entries = stats.newest_entries()
    assert len(entries) == 20
    assert [entry.name_hash for entry in entries[:3]] == [f"{3:064x}", f"{0:064x}", f"{1:064x}"]
    assert entries[0].size == 512
    assert len({entry.name_hash for entry in entries}) == 20


@pytest.mark.django_db
def test_distinct_values_lists_each_value_once_in_order(make_generation):
    for size in (160, 40, 80, 40, 160):
        make_generation(size=size)
    assert stats.distinct_values("size") == [40, 80, 160]


@pytest.mark.django_db
def test_distinct_values_of_an_empty_log_is_empty():
    assert stats.distinct_values("source") == []


# The chart geometry


def days_with(counts: list[int]) -> list[DayCount]:
    start = datetime.date(2026, 1, 1)
    return [DayCount(day=start + datetime.timedelta(days=n), count=c) for n, c in enumerate(counts)]


@pytest.mark.parametrize(
    ("value", "expected"), [(0, 1), (1, 1), (3, 5), (10, 10), (11, 20), (4016, 5000)]
)
def test_nice_ceiling_rounds_up_to_1_2_or_5_times_a_power_of_ten(value, expected):
    assert chart.nice_ceiling(value) == expected


def test_chart_has_one_bar_per_day_oldest_on_the_left():
    drawn = chart.bar_chart(days_with([1, 2, 3]))
    assert [bar.count for bar in drawn.bars] == [1, 2, 3]
    assert drawn.bars[0].x < drawn.bars[1].x < drawn.bars[2].x


def test_bars_stand_on_the_baseline_and_scale_with_their_count():
    drawn = chart.bar_chart(days_with([0, 10, 20]))
    for bar in drawn.bars:
        assert bar.y + bar.height == pytest.approx(drawn.baseline)
    assert drawn.bars[0].height == 0
    assert drawn.bars[2].height == pytest.approx(2 * drawn.bars[1].height)


def test_the_tallest_bar_stays_inside_the_chart():
    drawn = chart.bar_chart(days_with([16062, 9000]))
    assert drawn.bars[0].y >= 0
    assert drawn.bars[-1].x + drawn.bars[-1].width <= drawn.width


def test_gridlines_are_round_numbers_above_the_peak():
    drawn = chart.bar_chart(days_with([16062]))
    assert [line.text for line in drawn.gridlines] == ["0", "5k", "10k", "15k", "20k"]
    assert drawn.peak == 16062


def test_an_empty_month_still_draws_an_axis():
    drawn = chart.bar_chart(days_with([0] * 30))
    assert len(drawn.bars) == 30
    assert drawn.total == 0
    assert [line.text for line in drawn.gridlines] == ["0", "1", "2", "3", "4"]


def test_the_newest_day_is_always_labelled():
    drawn = chart.bar_chart(days_with([1] * 30))
    assert drawn.date_labels[-1].text == "30 Jan"
    assert len(drawn.date_labels) == 5  # every 7th day back from the newest


def test_each_bar_has_a_tooltip_with_date_and_count():
    drawn = chart.bar_chart(days_with([1234]))
    assert drawn.bars[0].title == "Thu 01 Jan: 1,234"
