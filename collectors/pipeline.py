"""The scan pipeline: plan units, collect each unit, finish the scan.

Celery tasks in collectors/tasks.py are thin wrappers around these functions.
"""

import functools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django import db
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.aws import DEFAULT_REGION, member_session, new_session
from accounts.models import Account, Organization
from collectors.base import COLLECTORS
from collectors.errors import classify
from collectors.models import GLOBAL_REGION, ErrorKind, Scan, ScanUnit
from collectors.store import mark_missing_deleted, store_records

log = logging.getLogger(__name__)

# A unit still marked running after this long without a heartbeat belongs to a
# worker that vanished; a redelivered task may take it over.
STALE_UNIT_SECONDS = 15 * 60
ENABLED_OPT_IN = {"opt-in-not-required", "opted-in"}


class ScanError(Exception):
    """A scan could not be planned (no accounts, unknown service ...)."""


@functools.cache
def all_regions() -> tuple[str, ...]:
    """Every commercial region botocore knows, for organizations without a list."""
    return tuple(sorted(new_session().get_available_regions("ec2")))


def plan_scan(
    organization: Organization,
    *,
    trigger: str = Scan.Trigger.MANUAL,
    user=None,
    account_ids: list[str] | None = None,
    regions: list[str] | None = None,
    services: list[str] | None = None,
) -> Scan:
    """Create a scan and its units, and enqueue it once the transaction commits."""
    accounts = Account.objects.filter(organization=organization).scannable()
    if account_ids:
        accounts = accounts.filter(account_id__in=account_ids)
        unknown = set(account_ids) - set(accounts.values_list("account_id", flat=True))
        if unknown:
            raise ScanError(
                "not an enabled, active account of "
                f"{organization}: {', '.join(sorted(unknown))}"
            )
    accounts = list(accounts)
    if not accounts:
        raise ScanError(f"{organization} has no enabled, active accounts to scan")
    services = list(services or organization.services or sorted(COLLECTORS))
    regions = list(
        regions
        or organization.regions
        or settings.PARAPET_DEFAULT_REGIONS
        or all_regions()
    )
    problems = validate_scope(regions, services)
    if problems:
        raise ScanError("; ".join(problems))

    with transaction.atomic():
        scan = Scan.objects.create(
            organization=organization,
            trigger=trigger,
            requested_by=user,
            started_at=timezone.now(),
            regions=regions,
            services=services,
        )
        units = []
        for account in accounts:
            for service in services:
                unit_regions = (
                    [GLOBAL_REGION] if COLLECTORS[service].is_global else regions
                )
                units.extend(
                    ScanUnit(scan=scan, account=account, region=r, service=service)
                    for r in unit_regions
                )
        ScanUnit.objects.bulk_create(units, ignore_conflicts=True)
        from collectors import tasks

        scan_id = scan.pk
        transaction.on_commit(lambda: tasks.start_scan.delay(scan_id))
    return scan


def split_list(value: str) -> list[str]:
    """'a, b,,c' -> ['a', 'b', 'c'] (CLI and form input)."""
    return [item.strip() for item in value.split(",") if item.strip()]


def validate_scope(regions: list[str], services: list[str]) -> list[str]:
    """Problems with a region or service list (empty lists mean "all")."""
    problems = []
    unknown_services = sorted(set(services) - set(COLLECTORS))
    if unknown_services:
        problems.append(
            f"unknown services: {', '.join(unknown_services)} "
            f"(known: {', '.join(sorted(COLLECTORS))})"
        )
    unknown_regions = [r for r in regions if r not in set(all_regions())]
    if unknown_regions:
        problems.append(f"unknown regions: {', '.join(unknown_regions)}")
    return problems


def start_scan(scan_id: int) -> None:
    from celery import chord, current_app, group

    from collectors import tasks

    claimed = Scan.objects.filter(pk=scan_id, status=Scan.Status.PENDING).update(
        status=Scan.Status.RUNNING
    )
    if not claimed:
        return
    unit_ids = list(
        ScanUnit.objects.filter(scan_id=scan_id).values_list("pk", flat=True)
    )
    if not unit_ids:
        tasks.finish_scan.delay(scan_id)
        return
    if current_app.conf.task_always_eager:
        # No broker: run the units on threads of this process, as a worker
        # pool would, then finish.
        run_units_in_process(unit_ids)
        finish_scan(scan_id)
        return
    chord(group(tasks.run_unit.si(pk) for pk in unit_ids))(
        tasks.finish_scan.si(scan_id)
    )


def run_units_in_process(unit_ids: list[int]) -> None:
    workers = settings.PARAPET_INPROCESS_CONCURRENCY
    if workers <= 1:
        for pk in unit_ids:
            run_unit(pk)
        return

    def run(pk: int) -> None:
        try:
            run_unit(pk)
        finally:
            db.connections.close_all()  # this thread's connection

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="unit") as pool:
        list(pool.map(run, unit_ids))


@dataclass
class _RegionCache:
    regions: set[str]
    at: float


_enabled_regions: dict[tuple[str, str], _RegionCache] = {}
_regions_lock = threading.Lock()


def enabled_regions(collector, account_id: str, session_name: str) -> set[str]:
    """Regions enabled in the account (ec2:DescribeRegions), cached per scan."""
    key = (account_id, session_name)
    with _regions_lock:
        cached = _enabled_regions.get(key)
        if cached and time.time() - cached.at < 3600:
            return cached.regions
    ec2 = collector.client("ec2", DEFAULT_REGION)
    found = {
        r["RegionName"]
        for r in ec2.describe_regions(AllRegions=True)["Regions"]
        if r.get("OptInStatus", "opt-in-not-required") in ENABLED_OPT_IN
    }
    with _regions_lock:
        _enabled_regions[key] = _RegionCache(found, time.time())
    return found


def _claim_unit(unit_id: int) -> bool:
    now = timezone.now()
    stale = now - timezone.timedelta(seconds=STALE_UNIT_SECONDS)
    return bool(
        ScanUnit.objects.filter(pk=unit_id)
        .filter(
            Q(status=ScanUnit.Status.PENDING)
            | Q(status=ScanUnit.Status.RUNNING, heartbeat_at__lt=stale)
        )
        .exclude(scan__status=Scan.Status.CANCELLED)
        .update(
            status=ScanUnit.Status.RUNNING,
            started_at=now,
            heartbeat_at=now,
            attempts=F("attempts") + 1,
        )
    )


def run_unit(unit_id: int) -> str:
    """Collect one account × region × service. Never raises: errors are recorded."""
    if not _claim_unit(unit_id):
        return "skipped: not claimable"
    unit = ScanUnit.objects.select_related("scan", "account__organization").get(
        pk=unit_id
    )
    scan, account = unit.scan, unit.account
    collector_cls = COLLECTORS[unit.service]
    collector = None
    try:
        session = member_session(
            account.organization, account.account_id, scan.session_name
        )
        collector = collector_cls(
            session, account.account_id, unit.region, scan.started_at
        )
        if unit.region != GLOBAL_REGION and unit.region not in enabled_regions(
            collector, account.account_id, scan.session_name
        ):
            _finish_unit(
                unit,
                ScanUnit.Status.SKIPPED,
                collector,
                error_kind=ErrorKind.REGION_DISABLED,
                error_message=f"{unit.region} is not enabled in this account",
            )
            return "skipped: region not enabled"
        stored = store_records(unit, collector.collect(), scan.started_at)
        mark_missing_deleted(unit, stored.seen_ids, scan.started_at)
        unit.resources = stored.resources
        unit.snapshots_written = stored.snapshots_written
        _finish_unit(unit, ScanUnit.Status.OK, collector)
        return "ok"
    except Exception as exc:  # a unit never takes its scan down
        kind, message = classify(exc)
        log.warning(
            "scan %s unit %s/%s/%s failed: %s: %s",
            scan.pk,
            account.account_id,
            unit.region,
            unit.service,
            kind,
            message,
        )
        _finish_unit(
            unit,
            ScanUnit.Status.FAILED,
            collector,
            error_kind=kind,
            error_message=message,
        )
        return f"failed: {kind}"


def _finish_unit(unit, status, collector, *, error_kind="", error_message="") -> None:
    unit.status = status
    unit.error_kind = error_kind
    unit.error_message = error_message
    unit.finished_at = timezone.now()
    unit.api_calls = collector.api_calls if collector else 0
    unit.save(
        update_fields=[
            "status",
            "error_kind",
            "error_message",
            "finished_at",
            "api_calls",
            "resources",
            "snapshots_written",
        ]
    )


def finish_scan(scan_id: int) -> None:
    """Evaluate the controls and settle the scan's status. Safe to re-run."""
    from findings.engine import evaluate_scan

    claimed = Scan.objects.filter(
        pk=scan_id, status__in=[Scan.Status.RUNNING, Scan.Status.EVALUATING]
    ).update(status=Scan.Status.EVALUATING)
    if not claimed:
        return
    scan = Scan.objects.get(pk=scan_id)
    evaluate_scan(scan)
    counts = scan_unit_counts(scan)
    if counts["ok"] == 0 and counts["failed"]:
        status = Scan.Status.FAILED
        message = "No unit could be collected."
    elif counts["failed"]:
        status = Scan.Status.PARTIAL
        message = (
            f"{counts['failed']} of {counts['total']} units could not be collected."
        )
    else:
        status = Scan.Status.FINISHED
        message = ""
    Scan.objects.filter(pk=scan_id).update(
        status=status, finished_at=timezone.now(), message=message
    )


def scan_unit_counts(scan: Scan) -> dict[str, int]:
    counts = {"total": 0, "ok": 0, "failed": 0, "skipped": 0, "pending": 0}
    for status in scan.units.values_list("status", flat=True):
        counts["total"] += 1
        if status == ScanUnit.Status.OK:
            counts["ok"] += 1
        elif status == ScanUnit.Status.FAILED:
            counts["failed"] += 1
        elif status == ScanUnit.Status.SKIPPED:
            counts["skipped"] += 1
        else:
            counts["pending"] += 1
    return counts


def wait_for_scan(scan: Scan, timeout: float = 3600, poll: float = 1.0) -> Scan:
    """Block until the scan is done (or the timeout passes); returns it fresh."""
    deadline = time.monotonic() + timeout
    while True:
        scan.refresh_from_db()
        if scan.is_done or time.monotonic() > deadline:
            return scan
        time.sleep(poll)
