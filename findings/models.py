from django.db import models
from django.db.models import Q

from accounts.models import Account
from collectors.models import Resource, Scan, Snapshot
from findings.controls.base import REGISTRY, Control, Status
from findings.querysets import FindingQuerySet, RollupQuerySet

STATUS_CHOICES = [(s.value, s.value.replace("_", " ").title()) for s in Status]


class Finding(models.Model):
    """The current result of one control on one resource."""

    # Denormalised from the resource so scoping and per-account counts need no join.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    resource = models.ForeignKey(
        Resource, on_delete=models.CASCADE, related_name="findings"
    )
    control_id = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=STATUS_CHOICES)
    reason = models.TextField()
    first_seen = models.DateTimeField()
    last_changed = models.DateTimeField()
    # The snapshot current when the status last changed ("this change flipped it").
    snapshot = models.ForeignKey(
        Snapshot, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    scan = models.ForeignKey(
        Scan, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = FindingQuerySet.as_manager()

    class Meta:
        constraints = [
            # A finding's identity: (resource, control). Re-evaluation upserts.
            models.UniqueConstraint(
                fields=["resource", "control_id"], name="finding_identity"
            ),
        ]
        indexes = [
            # Control page: findings of a control by account and status.
            models.Index(
                fields=["control_id", "account", "status"],
                name="finding_control_idx",
            ),
            # Account page and overview drill-downs: an account's failures.
            models.Index(fields=["account", "status"], name="finding_account_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.control_id} on {self.resource}: {self.status}"

    def get_absolute_url(self) -> str:
        return self.resource.get_absolute_url()

    @property
    def control(self) -> Control | None:
        return REGISTRY.get(self.control_id)


class FindingChange(models.Model):
    """A status change of a finding, with the snapshot that caused it."""

    finding = models.ForeignKey(
        Finding, on_delete=models.CASCADE, related_name="changes"
    )
    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()
    old_status = models.CharField(max_length=16, choices=STATUS_CHOICES, blank=True)
    new_status = models.CharField(max_length=16, choices=STATUS_CHOICES)
    reason = models.TextField()
    snapshot = models.ForeignKey(
        Snapshot, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-pk"]
        constraints = [
            # A re-run of the same scan's evaluation records a change once.
            models.UniqueConstraint(
                fields=["finding", "scan"], name="finding_change_once_per_scan"
            ),
        ]
        indexes = [
            # "What changed in this scan" on the overview and scan pages.
            models.Index(fields=["scan", "new_status"], name="change_scan_idx"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.finding.control_id}: {self.old_status or 'new'} → {self.new_status}"
        )


class ControlRollup(models.Model):
    """Counts per scan x account x control; every dashboard aggregate reads these."""

    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="rollups")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    control_id = models.CharField(max_length=100)
    section = models.CharField(max_length=100)
    at = models.DateTimeField()  # the scan's clock
    passed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    not_applicable = models.PositiveIntegerField(default=0)
    # Findings whose resource was not collected in this scan: not passing.
    unknown = models.PositiveIntegerField(default=0)
    suppressed = models.PositiveIntegerField(default=0)

    objects = RollupQuerySet.as_manager()

    class Meta:
        constraints = [
            # Re-running a scan's evaluation replaces, never duplicates.
            models.UniqueConstraint(
                fields=["scan", "account", "control_id"], name="rollup_identity"
            ),
        ]
        indexes = [
            # Trends: an account's rollups over time.
            models.Index(fields=["account", "at"], name="rollup_account_time_idx"),
            # Control and section trends.
            models.Index(fields=["control_id", "at"], name="rollup_control_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.control_id} {self.account_id} scan {self.scan_id}"

    @property
    def evaluated(self) -> int:
        return self.passed + self.failed + self.errors + self.unknown


def pass_rate(passed: int, failed: int, errors: int, unknown: int) -> float | None:
    """Share passing among findings that should pass; None when nothing applies.

    ERROR and unknown (not collected) count against the rate: a gap can lower
    it, never raise it.
    """
    total = passed + failed + errors + unknown
    return None if total == 0 else passed / total


__all__ = ["ControlRollup", "Finding", "FindingChange", "pass_rate", "Q"]
