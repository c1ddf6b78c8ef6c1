from django.contrib import admin

from findings.models import (
    DigestSubscription,
    Finding,
    FindingChange,
    SentDigest,
    Suppression,
    SuppressionEvent,
)


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


# -- Email digests (findings/digests.py) -----------------------------------------------


@admin.register(DigestSubscription)
class DigestSubscriptionAdmin(admin.ModelAdmin):
    """Users' subscriptions, and teams' defaults for their new members."""

    list_display = [
        "__str__",
        "active",
        "frequency",
        "hour",
        "weekday",
        "timezone",
        "min_severity",
    ]
    list_filter = [
        "active",
        "frequency",
        ("default_for_team", admin.EmptyFieldListFilter),
    ]
    search_fields = ["user__username", "user__email", "default_for_team__name"]
    list_select_related = ["user", "default_for_team"]
    raw_id_fields = ["user"]
    filter_horizontal = ["teams", "accounts"]
    actions = ["subscribe_members"]

    @admin.action(description="Subscribe the team's members who have no digest yet")
    def subscribe_members(self, request, queryset) -> None:
        from findings.digests import subscribe_team_members

        added = sum(
            subscribe_team_members(default)
            for default in queryset.filter(default_for_team__isnull=False)
        )
        self.message_user(request, f"{added} member(s) subscribed.")


@admin.register(SentDigest)
class SentDigestAdmin(admin.ModelAdmin):
    """The delivery log: one row per user and period, written by the sender."""

    list_display = [
        "user",
        "frequency",
        "period_end",
        "status",
        "attempts",
        "trigger",
        "sent_at",
    ]
    list_filter = ["status", "frequency", "trigger"]
    search_fields = ["user__username", "to_address", "subject"]
    list_select_related = ["user"]
    date_hierarchy = "period_end"
    readonly_fields = [f.name for f in SentDigest._meta.fields]
    actions = ["retry"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Retry sending the selected failed digests")
    def retry(self, request, queryset) -> None:
        from findings.digests import enqueue

        failed = list(
            queryset.filter(status=SentDigest.Status.FAILED).values_list(
                "pk", flat=True
            )
        )
        for pk in failed:
            enqueue(pk)
        self.message_user(request, f"{len(failed)} digest(s) queued again.")


# -- Exceptions (findings/suppressions.py) ---------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that only Parapet's own pages write."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class SuppressionEventInline(admin.TabularInline):
    model = SuppressionEvent
    extra = 0
    can_delete = False
    fields = ["at", "action", "actor", "changes"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Suppression)
class SuppressionAdmin(ReadOnlyAdmin):
    """Read-only: exceptions are created, changed and revoked on the
    Exceptions pages, which write the audit log and recount the dashboard with
    every change; an edit here would do neither."""

    list_display = [
        "pk",
        "control_id",
        "scope",
        "target_label",
        "approver",
        "owner",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["scope", "organization", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["control_id", "reason", "approver", "resource__resource_id"]
    list_select_related = ["organization", "account", "resource", "owner"]
    date_hierarchy = "expires_at"
    inlines = [SuppressionEventInline]

    def changelist_view(self, request, extra_context=None):
        from django.contrib import messages

        messages.info(
            request,
            "Exceptions are read-only here: create, change and revoke them on "
            "the Exceptions pages, so the audit log stays complete.",
        )
        return super().changelist_view(request, extra_context)


@admin.register(SuppressionEvent)
class SuppressionEventAdmin(ReadOnlyAdmin):
    """The exceptions' audit log; written with each change, never edited."""

    list_display = ["at", "action", "suppression", "actor"]
    list_filter = ["action"]
    list_select_related = [
        "suppression__organization",
        "suppression__account",
        "suppression__resource",
        "actor",
    ]
    date_hierarchy = "at"
