from __future__ import annotations

import re
from http import HTTPStatus

import pytest
from django.utils.html import escape

from monsters.images import identity, keys
from tests.form_client import FormClient

pytestmark = pytest.mark.django_db

JOE_BLOGGS_HASH = "9d19f9f3fabd63c76a2d1408e061de7ae453e8f42488dc5812948081f4035eba"


def _monster_src(html: str) -> str | None:
    match = re.search(r'<img src="([^"]+)"', html)
    return match.group(1) if match else None


def test_get_shows_the_form_with_joe_bloggs_and_his_monster(client):
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert "<title>Identidock</title>" in html
    assert '<label for="id_name">Hello</label>' in html
    assert 'value="Joe Bloggs"' in html
    assert "You look like a:" in html
    revision = keys.current_revision()
    assert _monster_src(html) == f"/monster/{JOE_BLOGGS_HASH}?size=80&amp;v={revision}"
    assert f'srcset="/monster/{JOE_BLOGGS_HASH}?size=160&amp;v={revision} 2x"' in html
    assert 'width="80" height="80"' in html
    assert 'alt="The monster for Joe Bloggs"' in html


def test_post_shows_that_names_monster_and_keeps_the_name(client):
    response = client.post("/", {"name": "Moby Dock"})
    html = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert 'value="Moby Dock"' in html
    moby = identity.hash_name("Moby Dock")
    assert _monster_src(html) == f"/monster/{moby}?size=80&amp;v={keys.current_revision()}"


def test_name_is_stripped_before_hashing(client):
    response = client.post("/", {"name": "  Moby Dock \n"})
    assert _monster_src(response.content.decode()).startswith(
        f"/monster/{identity.hash_name('Moby Dock')}"
    )


def test_non_ascii_names_work(client):
    response = client.post("/", {"name": "김철수"})
    html = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert 'value="김철수"' in html
    assert identity.hash_name("김철수") in html


@pytest.mark.parametrize(
    "name, message",
    [
        ("", "Please type a name."),
        ("   ", "Please type a name."),
        ("x" * 201, "at most 200 characters"),
        ("line\nbreak", "control characters"),
    ],
)
def test_invalid_name_shows_the_error_with_status_400_and_no_monster(client, name, message):
    response = client.post("/", {"name": name})
    html = response.content.decode()
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert message in html
    assert 'id="id_name_error"' in html
    assert 'aria-invalid="true"' in html
    assert _monster_src(html) is None


def test_missing_name_field_is_a_400_not_a_500(client):
    response = client.post("/", {})
    assert response.status_code == HTTPStatus.BAD_REQUEST


def test_markup_in_a_name_is_escaped(client):
    # The original app's own test.
    response = client.post("/", {"name": '"><b>TEST</b><!--'})
    html = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert "<b>" not in html
    assert "&quot;&gt;&lt;b&gt;TEST&lt;/b&gt;&lt;!--" in html


def test_post_without_csrf_token_is_refused():
    client = FormClient(enforce_csrf_checks=True)
    response = client.post("/", {"name": "Moby Dock"})
    assert response.status_code == HTTPStatus.FORBIDDEN


def test_post_with_csrf_token_is_accepted():
    client = FormClient(enforce_csrf_checks=True)
    client.get("/")
    token = client.cookies["csrftoken"].value
    response = client.post("/", {"name": "Moby Dock", "csrfmiddlewaretoken": token})
    assert response.status_code == HTTPStatus.OK


def test_other_methods_are_not_allowed(client):
    assert client.put("/").status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_page_links_its_own_stylesheet_and_no_cdn(client):
    html = client.get("/").content.decode()
    assert '<link rel="stylesheet" href="/static/monsters/identidock.css">' in html
    assert "https://" not in html and "http://" not in html


@pytest.mark.parametrize(
    "name", ["김철수", '"><b>TEST</b><!--', "O'Brien & <Sons>", "x" * identity.MAX_NAME_LENGTH]
)
def test_any_valid_name_is_shown_escaped_with_its_monster(client, name):
    html = client.post("/", {"name": name}).content.decode()
    assert f'<p class="monster__name">{escape(name)}</p>' in html
    assert f"/monster/{identity.hash_name(name)}?" in html
    assert "<b>TEST</b>" not in html


def test_a_valid_posts_page_shows_the_stripped_name_in_the_box_and_the_caption(client):
    html = client.post("/", {"name": "  Moby Dock \n"}).content.decode()
    assert 'value="Moby Dock"' in html
    assert '<p class="monster__name">Moby Dock</p>' in html


def test_the_page_follows_a_new_revision_at_once(client, settings):
    client.get("/")
    settings.DNMONSTER_REVISION = "identidock-r99"
    settings.DNMONSTER_URL = "http://127.0.0.1:9"  # never asked: the page only links it
    assert "v=identidock-r99" in client.get("/").content.decode()


def test_every_page_gets_a_csrf_cookie_that_its_token_matches():
    client = FormClient(enforce_csrf_checks=True)
    html = client.get("/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1]
    assert client.cookies["csrftoken"].value
    response = client.post("/", {"name": "Moby Dock", "csrfmiddlewaretoken": token})
    assert response.status_code == HTTPStatus.OK
