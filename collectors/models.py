from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone

from accounts.aws_errors import ErrorKind
from accounts.models import Account, Organization

GLOBAL_REGION = "global"


class Scan(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Collecting"
        EVALUATING = "evaluating", "Evaluating"
        FINISHED = "finished", "Finished"
        PARTIAL = "partial", "Finished with gaps"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        # A scheduled start that found the previous scan still active: a
        # record with no units, so the history shows why no scan ran.
        SKIPPED = "skipped", "Skipped"

    #: Statuses of a scan still in progress; at most one per organization.
    ACTIVE_STATUSES = (Status.PENDING, Status.RUNNING, Status.EVALUATING)

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
        constraints = [
            # Scans never overlap: "is a scan of this organization active?"
            # (collectors.schedule.start_scan_unless_busy) has one answer even
            # when two starts race past its row lock.
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(status__in=["pending", "running", "evaluating"]),
                name="scan_one_active_per_org",
            ),
        ]

    def __str__(self) -> str:
        when = f"{self.started_at:%Y-%m-%d %H:%M}"
        return f"Scan #{self.pk} of {self.organization} at {when}"

    def get_absolute_url(self) -> str:
        return reverse("collectors:scan", args=[self.pk])

    @property
    def elapsed(self) -> timedelta:
        """How long it ran, or has been running so far."""
        return (self.finished_at or timezone.now()) - self.started_at

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def is_done(self) -> bool:
        return not self.is_active

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


# -- Every organization has a scan schedule ---------------------------------------
# Receivers live here (not in accounts) because accounts imports nothing of
# ours; models.py is imported when the app registry loads, so they are always
# connected.


@receiver(post_save, sender=Organization, dispatch_uid="collectors.default_schedule")
def _create_default_schedule(sender, instance, created, raw=False, **kwargs) -> None:
    if created and not raw:
        from collectors.schedule import create_default_schedule

        create_default_schedule(instance)


@receiver(post_delete, sender=Organization, dispatch_uid="collectors.drop_schedule")
def _delete_schedule(sender, instance, **kwargs) -> None:
    from collectors.schedule import delete_schedule

    delete_schedule(instance.pk)
