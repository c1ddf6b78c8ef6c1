from django.contrib import admin

from findings.models import Finding, FindingChange


class FindingChangeInline(admin.TabularInline):
    model = FindingChange
    extra = 0
    can_delete = False
    fields = ["at", "old_status", "new_status", "reason", "scan", "snapshot"]
    readonly_fields = fields
    ordering = ["-at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Finding)
class FindingAdmin(admin.ModelAdmin):
    """Findings are written by the evaluation engine only: read-only here."""

    list_display = ["control_id", "status", "resource", "account", "last_changed"]
    list_filter = ["status", "control_id"]
    search_fields = ["control_id", "resource__resource_id", "resource__name"]
    list_select_related = ["resource", "account"]
    raw_id_fields = ["account", "resource", "snapshot", "scan"]
    inlines = [FindingChangeInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
