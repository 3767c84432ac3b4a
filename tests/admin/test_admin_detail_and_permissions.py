"""A generation's detail page, and who may do what with the audit log."""

from __future__ import annotations

import datetime
from http import HTTPStatus

import pytest
from django.utils import timezone

from monsters.images import keys
from monsters.models import Generation

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/monsters/generation/"


def detail_url(row: Generation) -> str:
    return f"{CHANGELIST}{row.pk}/change/"


def delete_url(row: Generation) -> str:
    return f"{CHANGELIST}{row.pk}/delete/"


def test_detail_page_shows_the_monster_at_size_160(admin_client, make_generation):
    row = make_generation()
    content = admin_client.get(detail_url(row)).content.decode()
    src = f"/admin/monsters/generation/monster/{row.name_hash}?size=160&amp;v="
    assert f'src="{src}{keys.current_revision()}" width="160" height="160"' in content


def test_detail_page_shows_every_field(admin_client, make_generation):
    row = make_generation(size=120, format="webp", source="builtin", origin=Generation.Origin.WARM)
    response = admin_client.get(detail_url(row))
    content = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    for value in (row.name_hash, "120", "WebP", "builtin", "Cache warmer", "650", "12.5"):
        assert value in content
    shown = {field for line in response.context["adminform"] for field in line.fields}
    model_fields = {field.name for field in Generation._meta.fields} - {"id"}
    assert model_fields <= shown


def test_detail_page_lists_the_other_events_of_the_same_hash(admin_client, make_generation):
    now = timezone.now()
    older = make_generation(
        name_hash="a" * 64, size=40, created_at=now - datetime.timedelta(days=2)
    )
    newer = make_generation(
        name_hash="a" * 64, size=160, created_at=now - datetime.timedelta(days=1)
    )
    row = make_generation(name_hash="a" * 64, created_at=now)
    stranger = make_generation(name_hash="b" * 64)
    content = admin_client.get(detail_url(row)).content.decode()
    assert detail_url(older) in content
    assert detail_url(newer) in content
    assert content.index(detail_url(newer)) < content.index(detail_url(older))
    assert detail_url(stranger) not in content
    assert f"{CHANGELIST}?q={row.name_hash}" in content


def test_detail_page_says_when_a_hash_was_generated_once(admin_client, make_generation):
    row = make_generation()
    content = admin_client.get(detail_url(row)).content.decode()
    assert "This is the only generation of this hash." in content


def test_detail_page_has_no_save_button(admin_client, make_generation):
    row = make_generation()
    content = admin_client.get(detail_url(row)).content.decode()
    assert 'name="_save"' not in content


def test_nobody_can_add_a_row(admin_client):
    assert admin_client.get(f"{CHANGELIST}add/").status_code == HTTPStatus.FORBIDDEN
    response = admin_client.post(f"{CHANGELIST}add/", {"name_hash": "c" * 64, "size": 80})
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert Generation.objects.count() == 0


def test_nobody_can_change_a_row(admin_client, deleter_client, make_generation):
    row = make_generation(size=80)
    for client in (admin_client, deleter_client):
        response = client.post(detail_url(row), {"size": 512, "_save": "Save"})
        assert response.status_code == HTTPStatus.FORBIDDEN
    row.refresh_from_db()
    assert row.size == 80


def test_a_viewer_can_browse_and_open_rows(viewer_client, make_generation):
    row = make_generation()
    assert viewer_client.get(CHANGELIST).status_code == HTTPStatus.OK
    assert viewer_client.get(detail_url(row)).status_code == HTTPStatus.OK


def test_staff_without_delete_permission_cannot_delete(viewer_client, make_generation):
    row = make_generation()
    assert viewer_client.get(delete_url(row)).status_code == HTTPStatus.FORBIDDEN
    assert viewer_client.post(delete_url(row), {"post": "yes"}).status_code == (
        HTTPStatus.FORBIDDEN
    )
    assert Generation.objects.filter(pk=row.pk).exists()


def test_delete_permission_is_not_enough_without_being_a_superuser(deleter_client, make_generation):
    row = make_generation()
    assert deleter_client.post(delete_url(row), {"post": "yes"}).status_code == (
        HTTPStatus.FORBIDDEN
    )
    deleter_client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"}
    )
    assert Generation.objects.filter(pk=row.pk).exists()
    assert 'value="delete_selected"' not in deleter_client.get(CHANGELIST).content.decode()


def test_the_delete_action_is_offered_to_superusers_only(admin_client, viewer_client):
    superuser_page = admin_client.get(CHANGELIST).content.decode()
    viewer_page = viewer_client.get(CHANGELIST).content.decode()
    assert 'value="delete_selected"' in superuser_page
    assert 'value="delete_selected"' not in viewer_page
    assert 'value="warm_into_cache"' in viewer_page


def test_a_superuser_can_delete_a_row(admin_client, make_generation):
    row = make_generation()
    response = admin_client.post(delete_url(row), {"post": "yes"})
    assert response.status_code == HTTPStatus.FOUND
    assert not Generation.objects.filter(pk=row.pk).exists()


def test_staff_without_view_permission_cannot_see_the_log(outsider_client, make_generation):
    row = make_generation()
    assert outsider_client.get(CHANGELIST).status_code == HTTPStatus.FORBIDDEN
    assert outsider_client.get(detail_url(row)).status_code == HTTPStatus.FORBIDDEN


def test_anonymous_visitors_are_sent_to_the_login_page(client, make_generation):
    response = client.get(CHANGELIST)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith("/admin/login/")
