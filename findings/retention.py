"""Retention: raw history older than ``PARAPET_RETENTION_DAYS`` is pruned.

Raw history grows with every scan; what users read over long periods are the
rollups, which are never pruned, so every trend survives. Pruned, once older
than the cutoff:

- finding status changes (``FindingChange.at``);
- superseded snapshots (closed before the cutoff) that nothing kept points
  at: not a resource's current snapshot, not a finding's cause, not the
  snapshot of a status change that is kept;
- scan units of scans started before the cutoff (the ``Scan`` rows stay:
  rollups belong to them);
- resources deleted before the cutoff, with their findings, status changes
  and snapshots, unless an exception names them (exceptions are never
  deleted, so neither is what they point at).

Nothing of a scan still running, nor of each organization's latest finished
scan (the dashboard's "current" scan: its coverage and "what changed" panels
read its units and changes), is pruned.

Deletes run in short transactions of at most ``batch_size`` rows, each one
``DELETE ... WHERE id IN (SELECT id ... ORDER BY id LIMIT n)``, so the
dashboard (reads, never blocked in Postgres) and a running scan (which only
writes current snapshots and recent rows) are never held up for long. A run
is idempotent: a second one finds nothing to delete.
"""

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from collectors.models import Resource, Scan, ScanUnit, Snapshot
from findings.dashboard import DONE_STATUSES
from findings.models import Finding, FindingChange, Suppression

log = logging.getLogger(__name__)

#: Rows deleted per transaction.
BATCH_SIZE = 5_000
#: A long-deleted resource goes with its findings, their changes and its
#: remaining snapshots: about this many rows each, so a batch of resources
#: stays near ``batch_size`` rows.
ROWS_PER_RESOURCE = 10


@dataclass
class Pruned:
    """Rows deleted (or, in a dry run, that would be) per table."""

    finding_changes: int = 0
    snapshots: int = 0
    scan_units: int = 0
    findings: int = 0
    resources: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @property
    def total(self) -> int:
        return sum(self.as_dict().values())


def cutoff(days: int, now: datetime | None = None) -> datetime | None:
    """The instant before which raw history goes; None when kept forever (0)."""
    if days == 0:
        return None
    return (now or timezone.now()) - timedelta(days=days)


def pruned_before(first_seen: datetime) -> datetime | None:
    """For a resource first seen at ``first_seen``: the cutoff before which its
    history may have been pruned, or None when all of it is kept."""
    start = cutoff(settings.PARAPET_RETENTION_DAYS)
    return start if start is not None and first_seen < start else None


# -- What goes ------------------------------------------------------------------------


def _kept_scans() -> QuerySet:
    """Scans whose rows stay whatever their age: running, or current."""
    current = (
        Scan.objects.filter(status__in=DONE_STATUSES)
        .order_by("organization_id", "-started_at")
        .distinct("organization_id")
        .values("pk")
    )
    return Scan.objects.filter(
        Q(status__in=Scan.ACTIVE_STATUSES) | Q(pk__in=current)
    ).values("pk")


def _kept_change(cut: datetime) -> Q:
    return Q(at__gte=cut) | Q(scan_id__in=_kept_scans())


def old_changes(cut: datetime) -> QuerySet:
    return FindingChange.objects.exclude(_kept_change(cut))


def old_snapshots(cut: datetime) -> QuerySet:
    # Exists, not NOT IN: the referencing columns are nullable, and one NULL
    # in a NOT IN list would keep every row.
    referenced = (
        Exists(Resource.objects.filter(current_snapshot=OuterRef("pk")))
        | Exists(Finding.objects.filter(snapshot=OuterRef("pk")))
        | Exists(
            FindingChange.objects.filter(_kept_change(cut), snapshot=OuterRef("pk"))
        )
    )
    return (
        Snapshot.objects.filter(valid_to__lt=cut)
        .exclude(referenced)
        .exclude(scan_id__in=_kept_scans())
    )


def old_units(cut: datetime) -> QuerySet:
    return ScanUnit.objects.filter(scan__started_at__lt=cut).exclude(
        scan_id__in=_kept_scans()
    )


def expired_resources(cut: datetime) -> QuerySet:
    return Resource.objects.filter(deleted_at__lt=cut).exclude(
        Exists(Suppression.objects.filter(resource=OuterRef("pk")))
    )


# -- Pruning --------------------------------------------------------------------------


def prune(
    *,
    days: int | None = None,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
    dry_run: bool = False,
) -> Pruned:
    """Delete raw history older than ``days`` (default: the setting).

    Changes go before snapshots, so the snapshots only they pointed at go in
    the same run. A dry run counts the same rows and deletes nothing.
    """
    days = settings.PARAPET_RETENTION_DAYS if days is None else days
    cut = cutoff(days, now)
    if cut is None:
        return Pruned()
    if dry_run:
        return _count(cut)
    pruned = Pruned(
        finding_changes=_delete_in_batches(old_changes(cut), batch_size),
        snapshots=_delete_in_batches(old_snapshots(cut), batch_size),
        scan_units=_delete_in_batches(old_units(cut), batch_size),
    )
    _prune_expired_resources(cut, max(1, batch_size // ROWS_PER_RESOURCE), pruned)
    log.info("Pruned raw history before %s: %s", cut.isoformat(), pruned.as_dict())
    return pruned


def _count(cut: datetime) -> Pruned:
    expired = expired_resources(cut).values("pk")
    changes = FindingChange.objects.filter(
        ~_kept_change(cut) | Q(finding__resource_id__in=expired)
    )
    snapshots = Snapshot.objects.filter(
        Q(pk__in=old_snapshots(cut).values("pk")) | Q(resource_id__in=expired)
    )
    return Pruned(
        finding_changes=changes.count(),
        snapshots=snapshots.count(),
        scan_units=old_units(cut).count(),
        findings=Finding.objects.filter(resource_id__in=expired).count(),
        resources=expired.count(),
    )


def _delete(queryset: QuerySet) -> list[int]:
    """``DELETE ... WHERE pk IN (<queryset>)``; the deleted primary keys.

    Raw SQL on purpose: the ORM's delete() would load every row to emulate
    ON DELETE in Python. Every reference to these rows is excluded by the
    queryset or deleted in the same transaction (foreign keys are checked
    at commit).
    """
    model = queryset.model
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    sql, params = queryset.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        # Names quoted from the model's meta; values bound as parameters.
        delete = f"DELETE FROM {table} WHERE {pk} IN ({sql}) RETURNING {pk}"  # noqa: S608
        cursor.execute(delete, params)
        return [row[0] for row in cursor.fetchall()]


def _delete_in_batches(candidates: QuerySet, batch_size: int) -> int:
    """Delete ``candidates`` in primary-key order, one transaction per batch.

    Old rows have the lowest keys, so each batch walks the primary key index
    from where the previous one stopped.
    """
    deleted, after = 0, 0
    while True:
        batch = candidates.filter(pk__gt=after).order_by("pk")[:batch_size]
        with transaction.atomic():
            ids = _delete(batch)
        deleted += len(ids)
        if len(ids) < batch_size:
            return deleted
        after = max(ids)


def _prune_expired_resources(cut: datetime, batch_size: int, pruned: Pruned) -> None:
    """Long-deleted resources, ``batch_size`` at a time, with all their rows.

    Each batch locks its resources first and skips any a scan holds: a scan
    that finds a deleted resource again revives that row (store_records locks
    it), and it must not lose its history underneath.
    """
    after = 0
    while True:
        with transaction.atomic():
            ids = list(
                expired_resources(cut)
                .filter(pk__gt=after)
                .order_by("pk")
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                return
            changes = FindingChange.objects.filter(finding__resource_id__in=ids)
            findings = Finding.objects.filter(resource_id__in=ids)
            snapshots = Snapshot.objects.filter(resource_id__in=ids)
            pruned.finding_changes += len(_delete(changes))
            pruned.findings += len(_delete(findings))
            pruned.snapshots += len(_delete(snapshots))
            pruned.resources += len(_delete(Resource.objects.filter(pk__in=ids)))
        if len(ids) < batch_size:
            return
        after = ids[-1]
