from django.contrib import admin, messages
from django.db.models import Case, QuerySet, Value, When
from django.http import HttpRequest

from collectors.models import Resource, Scan, ScanUnit
from collectors.pipeline import cancel_scan


class ReadOnlyMixin:
    """Scans and what they collected are records: viewable, never edited here."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ScanUnitInline(ReadOnlyMixin, admin.TabularInline):
    model = ScanUnit
    extra = 0
    can_delete = False
    show_change_link = False
    fields = [
        "account",
        "region",
        "service",
        "status",
        "error_kind",
        "error_message",
        "attempts",
        "api_calls",
        "resources",
        "started_at",
        "finished_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        # Failed units first: they are why anyone opens a scan here.
        failed_first = Case(
            When(status=ScanUnit.Status.FAILED, then=Value(0)), default=Value(1)
        )
        return (
            super()
            .get_queryset(request)
            .select_related("account")
            .order_by(failed_first, "account__account_id", "service", "region")
        )


@admin.register(Scan)
class ScanAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "pk",
        "organization",
        "status",
        "trigger",
        "started_at",
        "finished_at",
        "message",
    ]
    list_filter = ["status", "trigger", "organization"]
    date_hierarchy = "started_at"
    list_select_related = ["organization"]
    inlines = [ScanUnitInline]
    actions = ["cancel_scans"]

    @admin.action(description="Cancel selected scans still in progress")
    def cancel_scans(self, request: HttpRequest, queryset: QuerySet) -> None:
        by = request.user.get_username()
        cancelled = [scan.pk for scan in queryset if cancel_scan(scan.pk, by=by)]
        self.message_user(
            request,
            f"Cancelled {len(cancelled)} scan(s); the others had already ended.",
            messages.SUCCESS if cancelled else messages.WARNING,
        )


@admin.register(Resource)
class ResourceAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "name_or_id",
        "resource_type",
        "account",
        "region",
        "first_seen",
        "deleted_at",
    ]
    list_filter = ["resource_type", "service", "region"]
    search_fields = ["resource_id", "name", "arn", "account__account_id"]
    list_select_related = ["account"]
    raw_id_fields = ["account", "current_snapshot"]

    @admin.display(description="Resource", ordering="name")
    def name_or_id(self, resource: Resource) -> str:
        return str(resource)
