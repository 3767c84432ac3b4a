"""GET /m/<hash>: a monster's own page, to share. It names the hash, never the name."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path

import pytest

from monsters.images import identity, keys
from tests.form_client import FormClient

pytestmark = pytest.mark.django_db

NAME = "Grace Hopper"
GRACE = identity.hash_name(NAME)
PAGE = f"/m/{GRACE}"
ROOT = Path(__file__).resolve().parent.parent


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


def section(content: str, title_id: str) -> str:
    """The <section> of a page that its heading `title_id` labels."""
    start = content.index(f'aria-labelledby="{title_id}"')
    return content[start : content.index("</section>", start)]


def downloads(content: str) -> list[tuple[str, str]]:
    found = re.findall(r'<a class="download" href="([^"]+)" download="([^"]+)">', content)
    return [(html.unescape(href), name) for href, name in found]


def test_downloads_are_versioned_urls_in_each_format_with_a_file_name(client, renderer_server):
    content = section(client.get(PAGE).content.decode(), "download-title")
    links = downloads(content)
    revision = keys.current_revision()
    short = GRACE[:12]
    assert links == [
        (f"/monster/{GRACE}.png?size=80&v={revision}", f"identidock-{short}-80.png"),
        (f"/monster/{GRACE}.png?size=256&v={revision}", f"identidock-{short}-256.png"),
        (f"/monster/{GRACE}.png?size=512&v={revision}", f"identidock-{short}-512.png"),
        (f"/monster/{GRACE}.svg?size=512&v={revision}", f"identidock-{short}-512.svg"),
        (f"/monster/{GRACE}.webp?size=512&v={revision}", f"identidock-{short}-512.webp"),
    ]
    for href, _ in links:
        assert client.get(href).status_code == HTTPStatus.OK


def test_the_same_id_is_offered_in_every_other_style_to_see_and_download(client, renderer_server):
    content = section(client.get(PAGE).content.decode(), "styles-title")
    short = GRACE[:12]
    links = downloads(content)
    for style in ("identicon", "retro"):
        revision = keys.current_revision(style)
        png = f"/monster/{GRACE}.png?size=512&v={revision}&style={style}"
        assert (png, f"identidock-{short}-{style}-512.png") in links
        assert f'src="/monster/{GRACE}?size=80&amp;v={revision}&amp;style={style}"' in content
    # The mystery person and the blank square are the same for every id: not offered.
    assert "mp" not in re.findall(r'class="styles__name">([^<]+)<', content)
    assert "blank" not in content
    for href, _ in links:
        answer = client.get(href)
        assert answer.status_code == HTTPStatus.OK
        assert answer["Content-Type"] in {"image/png", "image/svg+xml"}


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


def test_with_a_renderer_of_other_art_the_page_offers_no_monster_svg_and_says_why(
    client, renderer_server, settings
):
    settings.DNMONSTER_REVISION = "amouat-1.0"
    page = client.get(PAGE).content.decode()
    content = section(page, "download-title")
    assert ".svg?" not in content
    assert ".webp?" in content
    assert '<p class="panel__note">SVG is drawn only for Identidock' in content
    # The other styles are drawn here, whichever renderer draws the monster.
    assert ".svg?size=512&amp;v=identicon-r1&amp;style=identicon" in section(page, "styles-title")


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


# --- Absolute URLs from the site's address, and a cache policy -------------------------


def _shared_urls(content: str) -> list[str]:
    """Every absolute URL the page shares: og:url, og:image, twitter:image, canonical,
    and the snippets' image."""
    [canonical] = re.findall(r'<link rel="canonical" href="([^"]*)">', content)
    [snippet] = re.findall(r'<textarea id="snippet-markdown"[^>]*>[^<]*\((http[^)]*)\)', content)
    return [
        html.unescape(url)
        for url in (
            meta(content, "og:url"),
            meta(content, "og:image"),
            meta(content, "twitter:image"),
            canonical,
            snippet,
        )
    ]


def test_with_a_public_base_url_every_shared_url_starts_with_it(client, settings):
    settings.PUBLIC_BASE_URL = "https://identidock.example.com"
    settings.ALLOWED_HOSTS = ["testserver", "other.example"]
    content = client.get(PAGE, HTTP_HOST="other.example:8443").content.decode()
    urls = _shared_urls(content)
    assert all(url.startswith("https://identidock.example.com/") for url in urls), urls
    assert "other.example" not in content


def test_without_one_a_clients_port_never_reaches_the_page(client, settings):
    settings.PUBLIC_BASE_URL = ""
    # Django checks the host name against ALLOWED_HOSTS, never the port that follows.
    response = client.get(PAGE, HTTP_HOST="testserver:666")
    assert response.status_code == HTTPStatus.OK
    content = response.content.decode()
    assert ":666" not in content
    assert all(url.startswith("http://testserver/") for url in _shared_urls(content))


def test_without_one_an_ipv6_host_keeps_its_brackets(client, settings):
    settings.PUBLIC_BASE_URL = ""
    settings.ALLOWED_HOSTS = ["[::1]"]
    content = client.get(PAGE, HTTP_HOST="[::1]:8000").content.decode()
    assert meta(content, "og:url") == f"http://[::1]{PAGE}"


def test_a_host_outside_allowed_hosts_gets_no_page(client, settings):
    settings.PUBLIC_BASE_URL = ""
    assert client.get(PAGE, HTTP_HOST="evil.example").status_code == HTTPStatus.BAD_REQUEST


def test_shared_caches_may_keep_the_page_for_five_minutes(client):
    response = client.get(PAGE)
    assert response["Cache-Control"] == "public, max-age=300"
    # Nothing of the visitor's in it: no cookie set, no Vary on one.
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")


def test_head_gets_the_same_cache_policy(client):
    response = client.head(PAGE)
    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"] == "public, max-age=300"


@pytest.mark.parametrize(
    "value",
    [
        "identidock.example.com",
        "ftp://identidock.example.com",
        "https://x.example/path",
        "https://user@x.example",
        "https://x.example?q=1",
    ],
)
def test_a_public_base_url_that_is_not_scheme_and_host_stops_the_settings(value):
    result = subprocess.run(
        [sys.executable, "-c", "import identidock.settings"],
        cwd=ROOT,
        env={**os.environ, "SECRET_KEY": "x" * 50, "PUBLIC_BASE_URL": value},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "PUBLIC_BASE_URL must be http:// or https://" in result.stderr


def test_a_trailing_slash_on_the_public_base_url_is_dropped():
    result = subprocess.run(
        [sys.executable, "-c", "import identidock.settings as s; print(s.PUBLIC_BASE_URL)"],
        cwd=ROOT,
        env={**os.environ, "SECRET_KEY": "x" * 50, "PUBLIC_BASE_URL": "https://x.example:8443/"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "https://x.example:8443"
