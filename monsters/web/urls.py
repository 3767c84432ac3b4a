from django.urls import path, re_path

from monsters.avatars import read as avatar_read
from monsters.images import formats, identity
from monsters.web import health, image_views, views

app_name = "monsters"

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    re_path(
        rf"^monster/(?P<name_hash>{identity.NAME_HASH_PATTERN})$",
        image_views.monster,
        name="monster",
    ),
    re_path(
        rf"^monster/(?P<name_hash>{identity.NAME_HASH_PATTERN})"
        rf"\.(?P<extension>{formats.ANY})$",
        image_views.monster,
        name="monster_format",
    ),
    re_path(
        "^" + avatar_read.PATH.pattern.removeprefix("/") + "$",
        image_views.avatar,
        name="avatar",
    ),
    re_path(
        rf"^m/(?P<name_hash>{identity.NAME_HASH_PATTERN})$",
        views.permalink,
        name="permalink",
    ),
]
