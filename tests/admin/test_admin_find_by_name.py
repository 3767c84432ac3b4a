"""Find by name: staff post a name, never put it in a URL, and see the rows of its hash."""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User

from monsters.images import identity
from tests.form_client import FormClient

pytestmark = pytest.mark.django_db

FIND = "/admin/monsters/generation/find-by-name/"
CHANGELIST = "/admin/monsters/generation/"
NAME = "Moby Dock"


def test_the_form_posts_the_name_with_a_csrf_token(admin_client):
    response = admin_client.get(FIND)
    assert response.status_code == HTTPStatus.OK
    content = response.content.decode()
    assert f'<form method="post" action="{FIND}" id="find-by-name">' in content
    assert 'name="csrfmiddlewaretoken"' in content
    assert 'name="name"' in content


def test_a_posted_name_redirects_to_the_rows_of_its_hash(admin_client, make_generation):
    wanted = make_generation(name_hash=identity.hash_name(NAME))
    make_generation(name_hash=identity.hash_name("Joe Bloggs"))
    response = admin_client.post(FIND, {"name": NAME})
    assert response.status_code == HTTPStatus.FOUND
    location = response["Location"]
    assert location == f"{CHANGELIST}?q={identity.hash_name(NAME)}"
    shown = admin_client.get(location)
    assert [row.pk for row in shown.context["cl"].result_list] == [wanted.pk]


def test_the_name_is_in_no_url_of_the_round_trip(admin_client, make_generation):
    make_generation(name_hash=identity.hash_name(NAME))
    response = admin_client.post(FIND, {"name": NAME})
    location = response["Location"]
    assert "Moby" not in location and "Dock" not in location
    assert parse_qs(urlsplit(location).query) == {"q": [identity.hash_name(NAME)]}
    # Nor in the page the redirect leads to (whose links the next Referer would carry).
    assert "Moby" not in admin_client.get(location).content.decode()


def test_a_name_is_matched_exactly_and_stripped_as_the_form_does(admin_client, make_generation):
    make_generation(name_hash=identity.hash_name(NAME))
    assert admin_client.post(FIND, {"name": f"  {NAME} "})["Location"].endswith(
        identity.hash_name(NAME)
    )
    assert admin_client.post(FIND, {"name": "Moby"})["Location"].endswith(
        identity.hash_name("Moby")
    )


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "tab\there"])
def test_a_name_the_site_would_refuse_gets_the_form_again_with_the_reason(admin_client, name):
    response = admin_client.post(FIND, {"name": name})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert 'class="errorlist' in response.content.decode()


def test_the_post_is_csrf_protected(admin_user):
    client = FormClient(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(FIND, {"name": NAME}).status_code == HTTPStatus.FORBIDDEN
    client.get(FIND)  # the form sets the CSRF cookie, as in a browser
    token = client.cookies["csrftoken"].value
    response = client.post(FIND, {"name": NAME, "csrfmiddlewaretoken": token})
    assert response.status_code == HTTPStatus.FOUND


def test_staff_without_view_permission_cannot_use_it(outsider_client):
    assert outsider_client.get(FIND).status_code == HTTPStatus.FORBIDDEN
    assert outsider_client.post(FIND, {"name": NAME}).status_code == HTTPStatus.FORBIDDEN


def test_a_viewer_can_use_it(viewer_client):
    assert viewer_client.post(FIND, {"name": NAME}).status_code == HTTPStatus.FOUND


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.post(FIND, {"name": NAME})
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith("/admin/login/")
    assert "Moby" not in response["Location"]


def test_users_who_are_not_staff_are_sent_to_the_login_page(client):
    client.force_login(User.objects.create_user("visitor"))
    assert client.get(FIND)["Location"].startswith("/admin/login/")


def test_the_changelist_links_to_it(admin_client):
    content = admin_client.get(CHANGELIST).content.decode()
    assert f'<a href="{FIND}">Find by name</a>' in content
