from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("monsters.web.urls")),
]

handler400 = "monsters.web.errors.bad_request"
handler403 = "monsters.web.errors.permission_denied"
handler404 = "monsters.web.errors.not_found"
handler500 = "monsters.web.errors.server_error"
