from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from accounts.models import Account, Organization

GLOBAL_REGION = "global"


class ErrorKind(models.TextChoices):
    ACCESS_DENIED = "access_denied", "Access denied"
    REGION_DISABLED = "region_disabled", "Region not enabled"
    THROTTLED = "throttled", "Throttled"
    UNSUPPORTED = "unsupported", "Not supported by the endpoint"
    UNREACHABLE = "unreachable", "Endpoint unreachable"
    OTHER = "other", "Other error"


class Scan(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Collecting"
        EVALUATING = "evaluating", "Evaluating"
        FINISHED = "finished", "Finished"
        PARTIAL = "partial", "Finished with gaps"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Manual"
        SCHEDULED = "scheduled", "Scheduled"
        CLI = "cli", "Command line"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="scans"
    )
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.PENDING
    )
    trigger = models.CharField(
        max_length=10, choices=Trigger.choices, default=Trigger.MANUAL
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # The scan's clock: every snapshot, finding change and rollup it writes
    # carries this timestamp, so trends are exact and history replays.
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    regions = models.JSONField(default=list, blank=True)
    services = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            # Scan history of an organization, newest first.
            models.Index(
                fields=["organization", "-started_at"], name="scan_org_recent_idx"
            ),
        ]

    def __str__(self) -> str:
        when = f"{self.started_at:%Y-%m-%d %H:%M}"
        return f"Scan #{self.pk} of {self.organization} at {when}"

    def get_absolute_url(self) -> str:
        return reverse("collectors:scan", args=[self.pk])

    @property
    def is_done(self) -> bool:
        return self.status in {
            self.Status.FINISHED,
            self.Status.PARTIAL,
            self.Status.FAILED,
            self.Status.CANCELLED,
        }

    @property
    def session_name(self) -> str:
        """The STS session name; shows up in the member accounts' CloudTrail."""
        return f"parapet-scan-{self.pk}"


class ScanUnit(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        OK = "ok", "Collected"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="units")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    region = models.CharField(max_length=32)  # GLOBAL_REGION for global services
    service = models.CharField(max_length=40)
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.PENDING
    )
    error_kind = models.CharField(max_length=16, choices=ErrorKind.choices, blank=True)
    error_message = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    api_calls = models.PositiveIntegerField(default=0)
    resources = models.PositiveIntegerField(default=0)
    snapshots_written = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["account_id", "service", "region"]
        constraints = [
            # Planning is idempotent: one unit per scan x account x region x service.
            models.UniqueConstraint(
                fields=["scan", "account", "region", "service"], name="unit_unique"
            ),
        ]
        indexes = [
            # Gaps of a scan: units that did not collect, shown on the scan page.
            models.Index(fields=["scan", "status"], name="unit_scan_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account.account_id}/{self.region}/{self.service}"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    @property
    def is_gap(self) -> bool:
        """Not collected for a reason other than an intentional skip."""
        return self.status == self.Status.FAILED


class Resource(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    service = models.CharField(max_length=40)
    # The region of the unit that collects it (GLOBAL_REGION for global
    # services); deletion is decided per unit.
    unit_region = models.CharField(max_length=32)
    region = models.CharField(max_length=32)
    resource_type = models.CharField(max_length=100)
    resource_id = models.CharField(max_length=1024)
    arn = models.CharField(max_length=2048, blank=True)
    name = models.CharField(max_length=1024, blank=True)
    first_seen = models.DateTimeField()
    deleted_at = models.DateTimeField(null=True, blank=True)
    current_snapshot = models.ForeignKey(
        "Snapshot", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            # A resource's identity: (account, region, type, id).
            models.UniqueConstraint(
                fields=["account", "region", "resource_type", "resource_id"],
                name="resource_identity",
            ),
        ]
        indexes = [
            # Deletion sweep after a unit: live resources of account x service x region.
            models.Index(
                fields=["account", "service", "unit_region"],
                name="resource_unit_idx",
                condition=Q(deleted_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.resource_id

    def get_absolute_url(self) -> str:
        return reverse("findings:resource", args=[self.pk])

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class Snapshot(models.Model):
    resource = models.ForeignKey(
        Resource, on_delete=models.CASCADE, related_name="snapshots"
    )
    sha256 = models.CharField(max_length=64)
    config = models.JSONField()
    tags = models.JSONField(default=dict)
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField(null=True, blank=True)
    scan = models.ForeignKey(
        Scan, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["-valid_from"]
        constraints = [
            # At most one current snapshot per resource: a redelivered unit
            # cannot write a duplicate.
            models.UniqueConstraint(
                fields=["resource"],
                condition=Q(valid_to__isnull=True),
                name="snapshot_one_current",
            ),
        ]
        indexes = [
            # Timeline of a resource, newest first.
            models.Index(
                fields=["resource", "-valid_from"], name="snapshot_timeline_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resource} @ {self.valid_from:%Y-%m-%d %H:%M}"
