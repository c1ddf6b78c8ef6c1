from django.contrib import admin

from accounts.models import Account, AuditEvent, Membership, Organization, Team


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "management_account_id",
        "member_role_name",
        "simulated",
        "created_at",
    ]
    list_filter = ["simulated"]
    search_fields = ["name", "management_account_id"]
    readonly_fields = ["created_at"]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = [
        "account_id",
        "name",
        "organization",
        "status",
        "enabled",
        "ou_path",
        "discovered_at",
    ]
    list_filter = ["organization", "status", "enabled"]
    search_fields = ["account_id", "name"]
    list_select_related = ["organization"]
    readonly_fields = ["discovered_at"]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "account_count", "member_count"]
    search_fields = ["name"]
    filter_horizontal = ["accounts"]
    inlines = [MembershipInline]

    @admin.display(description="Accounts")
    def account_count(self, team: Team) -> int:
        return team.accounts.count()

    @admin.display(description="Members")
    def member_count(self, team: Team) -> int:
        return team.members.count()


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the log is written by ``accounts.audit.record`` alone."""

    list_display = ["at", "action", "actor_label", "target_label", "ip"]
    list_filter = ["action"]
    search_fields = ["actor_label", "target_label", "target_id"]
    date_hierarchy = "at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
