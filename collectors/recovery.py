"""Scans that lost their worker: the reaper, and resuming a scan's gaps.

A worker can vanish mid-unit (killed, its host gone) or a broker can lose the
messages of a scan; acks_late redelivery covers most of it, and what it does
not is settled here. ``reap_stuck_units`` runs every 5 minutes from beat
(migration 0004): a unit silent for the heartbeat timeout is failed ("worker
stopped responding"), and a scan left with nothing to wait for is finished,
PARTIAL, its lost units gaps (unknown, never pass).

``resume_scan`` re-runs the failed (and cancelled) units of a scan inside the
same scan: the same clock, so the snapshots they write line up with the rest
of the scan's. Hence only the organization's latest scan may be resumed: a
newer scan's observations must not be overwritten by ones stamped earlier.
"""

import logging
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.utils import timezone

from accounts.aws_errors import ErrorKind
from accounts.models import Organization
from collectors.heartbeat import heartbeat_timeout
from collectors.models import RESUMABLE_UNITS, Scan, ScanUnit
from collectors.pipeline import (
    UNFINISHED,
    ScanError,
    dispatch_units,
    run_in_background,
)

log = logging.getLogger(__name__)

WORKER_STOPPED = "worker stopped responding"
# Scans whose gaps (RESUMABLE_UNITS) may be collected again.
RESUMABLE_STATUSES = (Scan.Status.FAILED, Scan.Status.PARTIAL, Scan.Status.CANCELLED)


@dataclass
class Reaped:
    """What one pass of the reaper did."""

    units_failed: int = 0
    scans_finished: list[int] = field(default_factory=list)
    scans_restarted: list[int] = field(default_factory=list)
    units_resent: int = 0


def reap_stuck_units() -> Reaped:
    """Fail silent units and settle the scans nothing else will settle."""
    from collectors import tasks

    now = timezone.now()
    cutoff = now - heartbeat_timeout()
    reaped = Reaped()
    stuck = ScanUnit.objects.filter(
        status=ScanUnit.Status.RUNNING, heartbeat_at__lt=cutoff
    )
    touched = set(stuck.values_list("scan_id", flat=True))
    reaped.units_failed = stuck.update(
        status=ScanUnit.Status.FAILED,
        error_kind=ErrorKind.OTHER,
        error_message=WORKER_STOPPED,
        finished_at=now,
    )
    if reaped.units_failed:
        log.warning("reaper: %s units failed: %s", reaped.units_failed, WORKER_STOPPED)
        # Units of a cancelled scan that were collecting when it was
        # cancelled: no finish_scan will count them in.
        Scan.objects.filter(pk__in=touched).exclude(
            status__in=Scan.ACTIVE_STATUSES
        ).count_units()

    # A scan whose last unit just ended would be finished by its chord; one
    # whose units all ended a timeout ago lost its chord (a message lost with
    # the broker, a unit reaped above).
    unfinished = ScanUnit.objects.filter(scan=OuterRef("pk"), status__in=UNFINISHED)
    settled = (
        Scan.objects.filter(status=Scan.Status.RUNNING)
        .exclude(Exists(unfinished))
        .annotate(last_unit=Max("units__finished_at"))
        .filter(Q(pk__in=touched) | Q(last_unit__lt=cutoff) | Q(last_unit=None))
    )
    for scan_id in settled.values_list("pk", flat=True):
        tasks.finish_scan.delay(scan_id)
        reaped.scans_finished.append(scan_id)

    # Messages lost with the broker: a scan never started, units never taken.
    for scan_id in Scan.objects.filter(
        status=Scan.Status.PENDING, started_at__lt=cutoff
    ).values_list("pk", flat=True):
        tasks.start_scan.delay(scan_id)
        reaped.scans_restarted.append(scan_id)
    lost = ScanUnit.objects.filter(
        scan__status=Scan.Status.RUNNING,
        status=ScanUnit.Status.PENDING,
        heartbeat_at__lt=cutoff,
    )
    by_scan: dict[int, list[int]] = {}
    for unit_id, scan_id in lost.values_list("pk", "scan_id"):
        by_scan.setdefault(scan_id, []).append(unit_id)
    for scan_id, unit_ids in by_scan.items():
        # Duplicates of units still queued are harmless: the first claims.
        dispatch_units(scan_id, unit_ids)
        reaped.units_resent += len(unit_ids)
    return reaped


class NotResumable(ScanError):
    """Why a scan's gaps cannot be collected again now."""


def why_not_resumable(scan: Scan) -> str | None:
    """None if ``resume_scan`` would re-run units of the scan, else why not."""
    if scan.status not in RESUMABLE_STATUSES:
        return f"it is {scan.get_status_display().lower()}"
    if not scan.units.filter(RESUMABLE_UNITS).exists():
        return "it has no failed or cancelled units"
    later = Scan.objects.filter(
        organization_id=scan.organization_id, started_at__gt=scan.started_at
    ).order_by("started_at")
    active = later.filter(status__in=Scan.ACTIVE_STATUSES).first()
    if active:
        return f"scan #{active.pk} of the organization is in progress"
    newer = later.filter(units__isnull=False).first()
    if newer:
        return (
            f"scan #{newer.pk} has collected since; start a new scan instead, so "
            "older observations never overwrite newer ones"
        )
    return None


def resume_scan(scan_id: int, *, by: str, background: bool = False) -> int:
    """Collect a scan's failed and cancelled units again; the number of units.

    The scan goes back to running with its own clock, and is finished and
    evaluated again when they are done. Raises ``NotResumable``.
    """
    with transaction.atomic():
        scan = Scan.objects.select_related("organization").get(pk=scan_id)
        # The organization's row lock serialises this with starting a scan
        # (collectors.schedule.start_scan_unless_busy): never two active.
        Organization.objects.select_for_update().get(pk=scan.organization_id)
        scan.refresh_from_db(fields=["status"])
        problem = why_not_resumable(scan)
        if problem:
            raise NotResumable(f"Scan #{scan.pk} cannot be resumed: {problem}.")
        units = scan.units.filter(RESUMABLE_UNITS)
        unit_ids = list(units.values_list("pk", flat=True))
        units.update(
            status=ScanUnit.Status.PENDING,
            error_kind="",
            error_message="",
            started_at=None,
            finished_at=None,
            heartbeat_at=None,
            api_calls=0,
            resources=0,
            snapshots_written=0,
        )
        now = timezone.now()
        try:
            with transaction.atomic():
                Scan.objects.filter(pk=scan.pk).update(
                    status=Scan.Status.RUNNING,
                    finished_at=None,
                    counted_at=None,  # counted again when it ends
                    message=f"Resumed by {by} at {now:%Y-%m-%d %H:%M} UTC: "
                    f"{len(unit_ids)} units to collect again.",
                )
        except IntegrityError:  # a start that skipped the row lock
            raise NotResumable(
                f"Scan #{scan.pk} cannot be resumed: another scan of "
                f"{scan.organization} is in progress."
            ) from None
        transaction.on_commit(
            lambda: (
                run_in_background(dispatch_units, scan_id, unit_ids)
                if background
                else dispatch_units(scan_id, unit_ids)
            )
        )
    log.info("scan %s resumed by %s: %s units", scan_id, by, len(unit_ids))
    return len(unit_ids)
