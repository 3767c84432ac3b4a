"""Real avatar clients against a live Identidock (gunicorn on the shipped config): the
PyPI client libraries Django sites use, and the URL templates of GitLab, Gitea/Forgejo,
Discourse, Redmine and WordPress, each answered with an image of the size it asked for,
or with the 404 it asked for."""

from __future__ import annotations

import hashlib
import importlib
import io
from collections.abc import Iterator
from http import HTTPStatus

import pytest
import requests
from django.contrib.auth.models import User
from PIL import Image

from tests.live_identidock import live_identidock

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL = "Moby.Dock@Example.com "  # as typed: the clients trim and lowercase it
NORMAL = EMAIL.strip().lower()
MD5 = hashlib.md5(NORMAL.encode()).hexdigest()  # noqa: S324  (what Gravatar clients send)
SHA256 = hashlib.sha256(NORMAL.encode()).hexdigest()


@pytest.fixture(scope="module")
def identidock(django_db_setup, django_db_blocker) -> Iterator[str]:
    with django_db_blocker.unblock(), live_identidock() as url:
        yield url


def fetched_size(url: str) -> tuple[int, int]:
    answer = requests.get(url, timeout=30)
    assert answer.status_code == HTTPStatus.OK, (url, answer.text)
    assert answer.headers["Content-Type"].startswith("image/")
    return Image.open(io.BytesIO(answer.content)).size


# --- django-gravatar2 -------------------------------------------------------------


@pytest.fixture
def gravatar_helpers(identidock, settings):
    """django_gravatar.helpers, which reads GRAVATAR_URL and GRAVATAR_SECURE_URL when it
    is imported: imported again with both pointed at Identidock."""
    settings.GRAVATAR_URL = f"{identidock}/"
    settings.GRAVATAR_SECURE_URL = f"{identidock}/"
    from django_gravatar import helpers

    yield importlib.reload(helpers)
    del settings.GRAVATAR_URL, settings.GRAVATAR_SECURE_URL
    importlib.reload(helpers)


@pytest.mark.parametrize("size", [40, 80, 150])
def test_django_gravatar2_fetches_an_image_of_the_size_asked(gravatar_helpers, identidock, size):
    url = gravatar_helpers.get_gravatar_url(EMAIL, size=size)
    assert url.startswith(f"{identidock}/avatar/{MD5}.jpg?")
    assert fetched_size(url) == (size, size)


@pytest.mark.parametrize("default", ["identicon", "monsterid", "wavatar", "retro", "mm"])
def test_django_gravatar2_defaults_are_images(gravatar_helpers, default):
    assert fetched_size(gravatar_helpers.get_gravatar_url(EMAIL, size=64, default=default)) == (
        64,
        64,
    )


def test_django_gravatar2_learns_there_is_no_custom_gravatar(gravatar_helpers):
    assert gravatar_helpers.has_gravatar(EMAIL) is False


# --- django-avatar ----------------------------------------------------------------


@pytest.mark.parametrize("size", [48, 80])
def test_django_avatars_gravatar_provider_gives_a_url_of_an_image(identidock, settings, size):
    from avatar.providers import GravatarAvatarProvider

    settings.AVATAR_GRAVATAR_BASE_URL = f"{identidock}/avatar/"
    settings.AVATAR_GRAVATAR_DEFAULT = "identicon"
    user = User(username="moby", email=NORMAL)
    url = GravatarAvatarProvider.get_avatar_url(user, size)
    assert url.startswith(f"{identidock}/avatar/{MD5}/?")  # its form: a trailing slash
    assert fetched_size(url) == (size, size)


# --- Other applications' URL templates -----------------------------------------------


@pytest.mark.parametrize("scheme_hash", [MD5, SHA256])
@pytest.mark.parametrize("size", [24, 48, 96])
def test_gitlab_plain_url(identidock, scheme_hash, size):
    """gitlab.yml `gravatar: plain_url: "<base>/avatar/%{hash}?s=%{size}&d=identicon"`."""
    template = f"{identidock}/avatar/%{{hash}}?s=%{{size}}&d=identicon"
    url = template.replace("%{hash}", scheme_hash).replace("%{size}", str(size))
    assert fetched_size(url) == (size, size)


@pytest.mark.parametrize("size", [28, 290])
def test_gitea_and_forgejo_gravatar_source(identidock, size):
    """app.ini `[picture] GRAVATAR_SOURCE = <base>/avatar/`: `<base><md5>?d=identicon&s=N`."""
    assert fetched_size(f"{identidock}/avatar/{MD5}?d=identicon&s={size}") == (size, size)


@pytest.mark.parametrize("size", [120, 240, 360])
def test_discourse_download(identidock, size):
    """Discourse's gravatar download: `/avatar/<md5>.png?s=N&r=pg&d=identicon`."""
    assert fetched_size(f"{identidock}/avatar/{MD5}.png?s={size}&r=pg&d=identicon") == (
        size,
        size,
    )


def test_discourse_asks_whether_there_is_a_custom_avatar(identidock):
    """Discourse first asks with `d=404` and a cache buster: a 404 means "none"."""
    answer = requests.get(
        f"{identidock}/avatar/{MD5}.png?s=360&d=404&reset_cache=4b3c0d1e", timeout=30
    )
    assert answer.status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize("default", ["", "identicon", "mm", "retro", "monsterid", "wavatar"])
@pytest.mark.parametrize("size", [24, 48])  # and its 2x
def test_redmine(identidock, default, size):
    """Redmine's gravatar helper: `?rating=PG&size=24&default=<setting>`, then 2x."""
    url = f"{identidock}/avatar/{MD5}?rating=PG&size={size}&default={default}"
    assert fetched_size(url) == (size, size)


@pytest.mark.parametrize("size", [26, 32, 64, 96, 192])
def test_wordpress_sha256(identidock, size):
    """WordPress 6.8+: `/avatar/<sha256>?s=96&d=mm&r=g` (and 2x in srcset)."""
    assert fetched_size(f"{identidock}/avatar/{SHA256}?s={size}&d=mm&r=g") == (size, size)


def test_md5_and_sha256_of_one_email_are_answered_alike_but_not_linked(identidock):
    """Both work; they are different avatars, since nothing can tell they are one email."""
    md5 = requests.get(f"{identidock}/avatar/{MD5}?s=40", timeout=30)
    sha = requests.get(f"{identidock}/avatar/{SHA256}?s=40", timeout=30)
    assert md5.status_code == sha.status_code == HTTPStatus.OK
    assert md5.headers["ETag"] != sha.headers["ETag"]
