from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("monsters.urls")),
]

handler400 = "monsters.errors.bad_request"
handler403 = "monsters.errors.permission_denied"
handler404 = "monsters.errors.not_found"
