"""GET /m/<hash>: a monster's own page, to share. It names the hash, never the name."""

from __future__ import annotations

import html
import re
from http import HTTPStatus

import pytest

from monsters.images import identity, keys
from tests.form_client import FormClient

pytestmark = pytest.mark.django_db

NAME = "Grace Hopper"
GRACE = identity.hash_name(NAME)
PAGE = f"/m/{GRACE}"


def meta(content: str, key: str) -> str:
    """The content of the one <meta property|name="key"> of a page."""
    [value] = re.findall(rf'<meta (?:property|name)="{re.escape(key)}" content="([^"]*)">', content)
    return html.unescape(value)


def test_the_home_pages_result_links_to_the_monsters_page(client):
    content = client.post("/", {"name": NAME}).content.decode()
    assert f'<a class="monster__share" href="{PAGE}">Share your monster</a>' in content


def test_the_page_shows_the_monster_and_never_the_name(client, renderer_server):
    client.post("/", {"name": NAME})  # as a person arrives: from the form
    response = client.get(PAGE)
    assert response.status_code == HTTPStatus.OK
    content = response.content.decode()
    assert NAME not in content and "Grace" not in content
    assert f'src="/monster/{GRACE}?size=80&amp;v={keys.current_revision()}"' in content
    assert "<h1" in content and "A monster from Identidock" in content


def test_downloads_are_versioned_urls_in_each_format_with_a_file_name(client, renderer_server):
    content = client.get(PAGE).content.decode()
    links = re.findall(r'<a class="download" href="([^"]+)" download="([^"]+)">', content)
    revision = keys.current_revision()
    short = GRACE[:12]
    assert [(html.unescape(href), name) for href, name in links] == [
        (f"/monster/{GRACE}.png?size=80&v={revision}", f"identidock-{short}-80.png"),
        (f"/monster/{GRACE}.png?size=256&v={revision}", f"identidock-{short}-256.png"),
        (f"/monster/{GRACE}.png?size=512&v={revision}", f"identidock-{short}-512.png"),
        (f"/monster/{GRACE}.svg?size=512&v={revision}", f"identidock-{short}-512.svg"),
        (f"/monster/{GRACE}.webp?size=512&v={revision}", f"identidock-{short}-512.webp"),
    ]
    for href, _ in links:
        assert client.get(html.unescape(href)).status_code == HTTPStatus.OK


def test_embed_snippets_are_read_only_fields_with_absolute_unversioned_urls(client):
    content = client.get(PAGE).content.decode()
    fields = dict(
        re.findall(r'<textarea id="snippet-(\w+)"[^>]*readonly[^>]*>([^<]*)</textarea>', content)
    )
    image = f"http://testserver/monster/{GRACE}.png?size=80"
    assert html.unescape(fields["html"]) == (
        f'<img src="{image}" width="80" height="80" alt="A monster from Identidock">'
    )
    assert html.unescape(fields["markdown"]) == f"![A monster from Identidock]({image})"


def test_copy_buttons_come_from_a_script_file_never_inline(client):
    content = client.get(PAGE).content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", content, re.S)
    assert scripts == [(' src="/static/monsters/copy.js" defer', "")]
    assert " style=" not in content and "onclick" not in content
    assert (
        len(re.findall(r'<button type="button" class="copy" data-copy="snippet-\w+"', content)) == 2
    )
    assert client.get("/static/monsters/copy.js").status_code == HTTPStatus.OK


def test_open_graph_tags_preview_the_monster_at_512_px(client):
    content = client.get(PAGE).content.decode()
    assert meta(content, "og:title") == "A monster from Identidock"
    assert meta(content, "og:url") == f"http://testserver{PAGE}"
    assert meta(content, "og:image") == (
        f"http://testserver/monster/{GRACE}.png?size=512&v={keys.current_revision()}"
    )
    assert (meta(content, "og:image:width"), meta(content, "og:image:height")) == ("512", "512")
    assert meta(content, "og:image:type") == "image/png"
    assert meta(content, "twitter:card") == "summary_large_image"


def test_behind_tls_the_absolute_urls_are_https(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # As the proxy sends it: the public host name, the scheme in a header of its own.
    answer = client.get(PAGE, HTTP_HOST="testserver", HTTP_X_FORWARDED_PROTO="https")
    content = answer.content.decode()
    assert meta(content, "og:image").startswith("https://testserver/monster/")
    assert meta(content, "og:url") == f"https://testserver{PAGE}"


def test_the_page_carries_the_sites_strict_policy(client):
    policy = client.get(PAGE)["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


def test_with_a_renderer_of_other_art_the_page_offers_no_svg_and_says_why(
    client, renderer_server, settings
):
    settings.DNMONSTER_REVISION = "amouat-1.0"
    content = client.get(PAGE).content.decode()
    assert ".svg?" not in content
    assert ".webp?" in content
    assert '<p class="panel__note">SVG is drawn only for Identidock' in content


@pytest.mark.parametrize(
    "path",
    [
        f"/m/{GRACE.upper()}",
        f"/m/{GRACE[:63]}",
        f"/m/{GRACE}0",
        f"/m/{GRACE}/",
        "/m/Grace%20Hopper",
    ],
)
def test_anything_but_a_hash_is_404(client, path):
    response = client.get(path)
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response["Content-Type"].startswith("text/plain")


def test_the_page_takes_get_and_head_only_before_any_csrf_check():
    client = FormClient(enforce_csrf_checks=True)
    assert client.head(PAGE).status_code == HTTPStatus.OK
    response = client.post(PAGE)
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["Allow"] == "GET, HEAD"


def test_rendering_the_page_renders_no_monster(client, renderer_server):
    client.get(PAGE)
    assert renderer_server.count == 0  # the browser asks for the images it shows
