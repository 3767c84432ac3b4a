"""The staff view of the audit log: read-only, fast at millions of rows.

Rows are written by the service alone: nobody adds or changes one here, and only
superusers delete. The search box takes a hash or its prefix only; a name goes through
the find-by-name page (find_by_name.py), which posts it, so it never lands in a URL. The
actions warm (the warmer's engine) and evict (the service) cache entries. Thumbnails
come from a staff-only image route, so the renders that browsing the log causes are
recorded with origin `admin`, not as web traffic.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseNotAllowed
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, re_path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from monsters.admin import find_by_name, overview, stats
from monsters.admin.changelist import ALLOWED_LOOKUPS, KnownValuesFilter, search_condition
from monsters.images import answer, identity, keys, links, service
from monsters.models import Generation
from monsters.warming import engine
from monsters.web import image_views

# More than this many distinct monsters at once belongs to `manage.py warm_cache`.
MAX_ACTION_ENTRIES = 500
# Generations at once while a member of staff waits for the page.
ACTION_CONCURRENCY = 4
OTHER_EVENTS_SHOWN = 50
THUMBNAIL_SIZE = 40
PREVIEW_SIZE = 160
admin.site.site_header = "Identidock staff"
admin.site.site_title = "Identidock staff"
admin.site.index_title = "Audit log and accounts"
# The index template adds a link to the audit-log overview above the app list.
admin.site.index_template = "admin/identidock/index.html"
# The audit log's nine columns need the width more than staff need a second app list.
admin.site.enable_nav_sidebar = False


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = [
        "thumbnail",
        "short_hash",
        "size",
        "format",
        "source",
        "origin",
        "bytes_display",
        "render_ms_display",
        "created_display",
    ]
    list_display_links = ["thumbnail", "short_hash"]
    list_filter = [
        ("source", KnownValuesFilter),
        "origin",
        ("size", KnownValuesFilter),
        ("style", KnownValuesFilter),
    ]
    # Sorting by anything else would sort the whole log for every page.
    sortable_by = ["created_display"]
    date_hierarchy = "created_at"
    list_per_page = 100
    show_full_result_count = False
    # Facet counts cost a pass over the whole log per filter option.
    show_facets = admin.ShowFacets.NEVER
    # The box is shown for these; get_search_results decides what matches.
    search_fields = ["name_hash"]
    search_help_text = (
        "A hash or its first characters (e.g. 3fa9c2). To find a person's monster, use "
        "Find by name: the name is posted and hashed, never put in the address, and "
        "names are never stored."
    )
    actions = ["warm_into_cache", "evict_from_cache"]
    fieldsets = [
        (None, {"fields": ["monster_preview", "name_hash"]}),
        (
            "Generation",
            {
                "fields": [
                    "size",
                    "format",
                    "style",
                    "source",
                    "origin",
                    "png_bytes",
                    "render_ms",
                    "created_at",
                    "event_id",
                ]
            },
        ),
        ("Other generation events of this hash", {"fields": ["other_events"]}),
    ]
    # Every field shown is read-only: the log is written by the service alone.
    readonly_fields = [
        field
        for _, options in fieldsets
        for field in options["fields"]
        if isinstance(field, str)  # each of ours is one field a line
    ]

    # Read-only: the service writes the log; only superusers may delete from it.

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Generation | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Generation | None = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    # Columns

    @admin.display(description="monster")
    def thumbnail(self, obj: Generation) -> SafeString:
        return format_html(
            '<img src="{}" loading="lazy" width="{}" height="{}" alt="">',
            links.staff_monster_url(obj.name_hash, THUMBNAIL_SIZE),
            THUMBNAIL_SIZE,
            THUMBNAIL_SIZE,
        )

    @admin.display(description="hash")
    def short_hash(self, obj: Generation) -> SafeString:
        return format_html('<code title="{}">{}</code>', obj.name_hash, obj.name_hash[:12])

    @admin.display(description="bytes")
    def bytes_display(self, obj: Generation) -> str:
        return f"{obj.png_bytes:,}"

    @admin.display(description="render ms")
    def render_ms_display(self, obj: Generation) -> str:
        return f"{obj.render_ms:.1f}"

    @admin.display(description="created at", ordering="created_at")
    def created_display(self, obj: Generation) -> str:
        return f"{timezone.localtime(obj.created_at):%Y-%m-%d %H:%M:%S}"

    # Detail page

    @admin.display(description="monster")
    def monster_preview(self, obj: Generation) -> SafeString:
        return format_html(
            '<img class="monster-preview" src="{}" width="{}" height="{}" alt="The monster {}">',
            links.staff_monster_url(obj.name_hash, PREVIEW_SIZE),
            PREVIEW_SIZE,
            PREVIEW_SIZE,
            obj.name_hash[:12],
        )

    @admin.display(description="events")
    def other_events(self, obj: Generation) -> SafeString:
        events = list(
            stats.events_of_hash(
                name_hash=obj.name_hash, exclude_id=obj.pk, limit=OTHER_EVENTS_SHOWN
            )
        )
        search = find_by_name.changelist_of_hash(obj.name_hash)
        if not events:
            return format_html("<p>{}</p>", "This is the only generation of this hash.")
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{} px</td><td>{}</td><td>{}</td>'
            "<td>{}</td><td>{}</td><td>{} ms</td></tr>",
            (
                (
                    reverse("admin:monsters_generation_change", args=[event.pk]),
                    f"{timezone.localtime(event.created_at):%Y-%m-%d %H:%M:%S}",
                    event.size,
                    event.get_format_display(),
                    event.source,
                    event.get_origin_display(),
                    f"{event.png_bytes:,}",
                    f"{event.render_ms:.1f}",
                )
                for event in events
            ),
        )
        shown = (
            f"The newest {OTHER_EVENTS_SHOWN} are shown. "
            if len(events) == OTHER_EVENTS_SHOWN
            else ""
        )
        return format_html(
            '<table class="other-events"><thead><tr><th>time</th><th>size</th><th>format</th>'
            "<th>source</th><th>origin</th><th>bytes</th><th>render</th></tr></thead>"
            '<tbody>{}</tbody></table><p>{}<a href="{}">All events of this hash</a> '
            "in the log.</p>",
            rows,
            shown,
            search,
        )

    # Query-string lookups: only the filters the changelist offers, so a URL cannot ask
    # for a full-table scan (`?name_hash__regex=...`). Anything else is a 400.

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        return lookup in ALLOWED_LOOKUPS

    # Search: a hash prefix, never a scan of the whole log (nor a name: find_by_name).

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Generation], search_term: str
    ) -> tuple[QuerySet[Generation], bool]:
        if not search_term.strip():
            return queryset, False
        condition = search_condition(search_term)
        if condition is None:
            return queryset.none(), False
        return queryset.filter(condition), False

    # Actions, through the service layer

    def _selected_entries(
        self, request: HttpRequest, queryset: QuerySet[Generation]
    ) -> list[keys.Spec] | None:
        entries = [
            keys.Spec(name_hash, size, fmt, style)
            for name_hash, size, fmt, style in queryset.order_by()
            .values_list("name_hash", "size", "format", "style")
            .distinct()[: MAX_ACTION_ENTRIES + 1]
        ]
        if len(entries) > MAX_ACTION_ENTRIES:
            self.message_user(
                request,
                f"That selection holds more than {MAX_ACTION_ENTRIES} different monsters; "
                f"select fewer, or use `manage.py warm_cache` for bulk work.",
                messages.ERROR,
            )
            return None
        return entries

    @admin.action(description="Warm into cache", permissions=["view"])
    def warm_into_cache(self, request: HttpRequest, queryset: QuerySet[Generation]) -> None:
        entries = self._selected_entries(request, queryset)
        if entries is None:
            return
        report = engine.warm(
            entries,
            origin=Generation.Origin.ADMIN,
            reporter=engine.SilentReporter(),
            concurrency=ACTION_CONCURRENCY,
        )
        summary = f"{report.warmed} warmed, {report.cached} already cached, {report.failed} failed"
        if report.renderer_down:
            summary += f", {len(entries) - report.done} not tried (the renderer is down)"
        if report.failed:
            self.message_user(
                request,
                f"{summary}. The renderer said: {'; '.join(report.reasons)}.",
                messages.WARNING,
            )
        else:
            self.message_user(request, f"{summary}.", messages.SUCCESS)

    @admin.action(description="Evict from cache", permissions=["view"])
    def evict_from_cache(self, request: HttpRequest, queryset: QuerySet[Generation]) -> None:
        entries = self._selected_entries(request, queryset)
        if entries is None:
            return
        report = service.evict_specs(entries)
        self.message_user(
            request,
            f"{report.evicted} evicted, {report.not_cached} were not cached. "
            "The audit log keeps its rows.",
            messages.SUCCESS,
        )

    # The overview page and the staff image route

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "find-by-name/",
                self.admin_site.admin_view(self.find_by_name_view),
                name="monsters_generation_find_by_name",
            ),
            path(
                "overview/",
                self.admin_site.admin_view(self.overview_view),
                name="monsters_generation_overview",
            ),
            re_path(
                rf"^monster/(?P<name_hash>{identity.NAME_HASH_PATTERN})$",
                # cacheable: the image route sets its own (private) caching headers.
                self.admin_site.admin_view(self.monster_view, cacheable=True),
                name="monsters_generation_monster",
            ),
        ]
        return [*own, *super().get_urls()]

    def monster_view(self, request: HttpRequest, name_hash: str) -> HttpResponseBase:
        """The public image route's rules, for staff: renders recorded as `admin`."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        return image_views.serve_image(request, answer.STAFF)  # (not rate limited)

    def find_by_name_view(self, request: HttpRequest) -> HttpResponse:
        return find_by_name.find_by_name_view(self, request)

    def overview_view(self, request: HttpRequest) -> TemplateResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            **overview.overview_context(),
            "opts": self.opts,
            "title": "Audit log overview",
        }
        return TemplateResponse(request, "admin/monsters/generation/overview.html", context)
