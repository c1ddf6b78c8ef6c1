from datetime import timedelta

from django.conf import settings
from django.db import connections, models
from django.db.models import BigIntegerField, Count, Q, Sum
from django.db.models.expressions import RawSQL
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone

from accounts.aws_errors import ErrorKind
from accounts.models import Account, Organization
from collectors import paging

GLOBAL_REGION = "global"


class ScanQuerySet(models.QuerySet):
    def count_units(self) -> int:
        """Write these scans' unit counters from their units; the scans written.

        One statement, so the counters are one consistent reading of the
        units; a scan without units (skipped, or pruned) counts zero.
        """
        if self.query.is_sliced:
            raise TypeError("count_units() on a sliced queryset")
        by_scan = (
            ScanUnit.objects.using(self.db)
            .filter(scan__in=self.order_by().values("pk"))
            .order_by()
            .values("scan_id")
            .annotate(**UNIT_COUNTERS)
        )
        units_sql, units_params = by_scan.query.sql_with_params()
        ids_sql, ids_params = self.order_by().values("pk").query.sql_with_params()
        table = self.model._meta.db_table
        columns = [f"counted_{name}" for name in UNIT_COUNTERS]
        assignments = ", ".join(
            f"{column} = COALESCE(c.{name}, 0)"
            for column, name in zip(columns, UNIT_COUNTERS, strict=True)
        )
        sql = (
            f"UPDATE {table} SET {assignments}, counted_at = %s "  # noqa: S608
            f"FROM {table} AS s LEFT JOIN ({units_sql}) AS c ON c.scan_id = s.id "
            f"WHERE {table}.id = s.id AND s.id IN ({ids_sql})"
        )
        with connections[self.db].cursor() as cursor:
            cursor.execute(sql, [timezone.now(), *units_params, *ids_params])
            return cursor.rowcount


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
    # Unit counters, written when the scan ends (ScanQuerySet.count_units:
    # finish, cancel, the reaper), so the scan pages read one row per scan
    # instead of every unit. None while it runs (a resume clears it): count
    # the units themselves.
    counted_at = models.DateTimeField(null=True, blank=True)
    counted_total = models.PositiveIntegerField(default=0)
    counted_ok = models.PositiveIntegerField(default=0)
    counted_failed = models.PositiveIntegerField(default=0)
    counted_skipped = models.PositiveIntegerField(default=0)
    counted_resumable = models.PositiveIntegerField(default=0)
    counted_api_calls = models.BigIntegerField(default=0)
    counted_resources = models.BigIntegerField(default=0)

    objects = ScanQuerySet.as_manager()

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

    def counters(self) -> dict[str, int]:
        """The unit counters under the names of ``UNIT_COUNTERS``."""
        return {name: getattr(self, f"counted_{name}") for name in UNIT_COUNTERS}


class ScanUnitQuerySet(models.QuerySet):
    def page_by_account(
        self, accounts: list[int], offset: int, limit: int
    ) -> list["ScanUnit"]:
        """Units ``offset`` … ``offset + limit`` of these in the scan page's
        order: failed first, then account by account in the order of
        ``accounts`` (pks; other accounts' units are left out), each
        account's by service and region.

        Failed units, usually few, are sorted at once; the others are read
        account by account, so a page costs the units of the accounts before
        it rather than a sort of every unit joined to its account (a scan of
        1,000 accounts has 40,000). A keyset walk (``collectors.paging``).
        """
        if limit <= 0:
            return []
        ids = paging.walk_ids(
            lambda size: self._ids_by_account_sql(accounts, size, offset, limit),
            len(accounts),
            limit,
            using=self.db,
        )
        return paging.in_order(ids, self.filter(pk__in=ids).select_related("account"))

    def _ids_by_account_sql(
        self, accounts: list[int], size: int, offset: int, limit: int
    ) -> tuple[str, list]:
        """The SQL (and its parameters) of the ids of units ``offset`` …
        ``offset + limit`` of the failed ones and the others of the first
        ``size`` accounts, in order. The others come from the (scan, account)
        index, at most ``offset + limit`` per account (a LATERAL join)."""
        failed_sql, failed_params = (
            self.filter(status=ScanUnit.Status.FAILED)
            .order_by()
            .values_list("pk", "account_id", "service", "region")
            .query.sql_with_params()
        )
        rest_sql, rest_params = (
            self.filter(
                account_id=RawSQL("cell.account_id", [], output_field=BigIntegerField())
            )
            .exclude(status=ScanUnit.Status.FAILED)
            .order_by("service", "region")
            .values_list("pk", "service", "region")[: offset + limit]
            .query.sql_with_params()
        )
        # Only placeholders and Django's own compiled SQL are joined in.
        sql = (
            "WITH acc AS (SELECT * FROM unnest(%s::bigint[])"  # noqa: S608
            " WITH ORDINALITY AS a(account_id, ord))"
            " SELECT id FROM ("
            " SELECT true AS failed, acc.ord, f.service, f.region, f.id"
            f" FROM ({failed_sql}) AS f(id, account_id, service, region)"
            " JOIN acc ON acc.account_id = f.account_id"
            " UNION ALL"
            " SELECT false, cell.ord, w.service, w.region, w.id"
            " FROM (SELECT * FROM acc ORDER BY ord LIMIT %s) AS cell"
            f" CROSS JOIN LATERAL ({rest_sql}) AS w(id, service, region)"
            ") AS units ORDER BY failed DESC, ord, service, region OFFSET %s LIMIT %s"
        )
        return sql, [accounts, *failed_params, size, *rest_params, offset, limit]


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

    objects = ScanUnitQuerySet.as_manager()

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


#: Units a resume collects again: failed ones, and those a cancel skipped (a
#: region not enabled is skipped on purpose, with its kind, and stays so).
RESUMABLE_UNITS = Q(status=ScanUnit.Status.FAILED) | Q(
    status=ScanUnit.Status.SKIPPED, error_kind=""
)

#: What ``ScanQuerySet.count_units`` counts per scan, over its units; the
#: ``counted_*`` fields of ``Scan``.
UNIT_COUNTERS = {
    "total": Count("pk"),
    "ok": Count("pk", filter=Q(status=ScanUnit.Status.OK)),
    "failed": Count("pk", filter=Q(status=ScanUnit.Status.FAILED)),
    "skipped": Count("pk", filter=Q(status=ScanUnit.Status.SKIPPED)),
    "resumable": Count("pk", filter=RESUMABLE_UNITS),
    "api_calls": Sum("api_calls"),
    "resources": Sum("resources"),
}


class Resource(models.Model):
    # No index of its own: ``resource_identity`` leads with the account. A
    # second one cost every insert a write, and misled the snapshot store's
    # lookups into reading an account's every resource per key.
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="+", db_index=False
    )
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
            # ``FindingQuerySet.live``: "is this finding's resource deleted?",
            # answered from this small index for every finding a list counts.
            models.Index(
                fields=["id"],
                name="resource_deleted_idx",
                condition=Q(deleted_at__isnull=False),
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
