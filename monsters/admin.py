from django.contrib import admin

from .models import Generation


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    """The audit log, read-only: generations are recorded by the service alone."""

    list_display = ["name_hash", "size", "source", "origin", "png_bytes", "render_ms", "created_at"]
    list_filter = ["source", "origin", "size"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Generation._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
