from django.urls import path, re_path

from . import formats, health, identity, views

app_name = "monsters"

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    re_path(
        rf"^monster/(?P<name_hash>{identity.NAME_HASH_PATTERN})$",
        views.monster,
        name="monster",
    ),
    re_path(
        rf"^monster/(?P<name_hash>{identity.NAME_HASH_PATTERN})"
        rf"\.(?P<extension>{formats.ANY})$",
        views.monster,
        name="monster_format",
    ),
    re_path(
        rf"^m/(?P<name_hash>{identity.NAME_HASH_PATTERN})$",
        views.permalink,
        name="permalink",
    ),
]
