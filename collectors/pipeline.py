"""The scan pipeline: plan units, collect each unit, finish the scan.

Celery tasks in collectors/tasks.py are thin wrappers around these functions.
"""

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django import db
from django.conf import settings
from django.core.cache import cache
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.aws import DEFAULT_REGION, member_session, new_session
from accounts.aws_errors import ErrorKind, classify
from accounts.models import Account, Organization
from collectors.base import COLLECTORS
from collectors.heartbeat import (
    Heartbeat,
    UnitLost,
    heartbeat_timeout,
    owned,
    takeover_after,
)
from collectors.models import GLOBAL_REGION, Scan, ScanUnit
from collectors.ordering import longest_first
from collectors.store import mark_missing_deleted, store_records

log = logging.getLogger(__name__)

ENABLED_OPT_IN = {"opt-in-not-required", "opted-in"}
# How long a scan's answer is kept; a unit that starts later asks again.
REGIONS_CACHE_SECONDS = 6 * 3600
CANCELLED_UNIT_MESSAGE = "Not collected: the scan was cancelled."
# Units no worker has finished yet.
UNFINISHED = (ScanUnit.Status.PENDING, ScanUnit.Status.RUNNING)
# The database went away under a unit (a restart, a killed connection): the
# task is retried; anything else a unit raises is an AWS-side error.
DATABASE_ERRORS = (OperationalError, InterfaceError)


class ScanError(Exception):
    """A scan could not be planned (no accounts, unknown service ...)."""


class UnitBusy(Exception):
    """A redelivered unit whose first delivery may still be alive: ask later."""

    def __init__(self, retry_in: float):
        self.retry_in = retry_in
        super().__init__(f"unit still beating; look again in {retry_in:.0f} s")


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
    background: bool = False,
) -> Scan:
    """Create a scan and its units, and enqueue it once the transaction commits.

    ``background``: the caller (a web request) must not wait for the scan even
    when there is no broker; see ``_enqueue_start``.
    """
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
        scan_id = scan.pk
        transaction.on_commit(lambda: _enqueue_start(scan_id, background))
    return scan


def _enqueue_start(scan_id: int, background: bool) -> None:
    from celery import current_app

    from collectors import tasks

    if background and current_app.conf.task_always_eager:
        _start_thread(start_scan, scan_id)
    else:
        tasks.start_scan.delay(scan_id)


def run_in_background(func: Callable[..., None], scan_id: int, *args) -> None:
    """``func(scan_id, *args)``, which sends tasks, without making a web request
    wait for a scan: with a broker it returns once the messages are sent."""
    from celery import current_app

    if current_app.conf.task_always_eager:
        _start_thread(func, scan_id, *args)
    else:
        func(scan_id, *args)


def _start_thread(func: Callable[..., None], scan_id: int, *args) -> None:
    """No broker (the demo on a laptop): run the scan on a thread of this
    process, as a worker would, so "Scan now" answers at once and the scan
    page can show its progress."""

    def run() -> None:
        try:
            func(scan_id, *args)
        except Exception:
            log.exception("scan %s failed on its background thread", scan_id)
        finally:
            db.connections.close_all()  # this thread's connection

    threading.Thread(target=run, name=f"scan-{scan_id}", daemon=True).start()


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
    claimed = Scan.objects.filter(pk=scan_id, status=Scan.Status.PENDING).update(
        status=Scan.Status.RUNNING
    )
    if not claimed:
        return
    unit_ids = list(
        ScanUnit.objects.filter(scan_id=scan_id).values_list("pk", flat=True)
    )
    dispatch_units(scan_id, unit_ids)


def dispatch_units(scan_id: int, unit_ids: list[int]) -> None:
    """Collect these units of a running scan, then finish it.

    A pending unit's heartbeat records when it was sent, so the reaper can
    tell a unit waiting in the queue from one whose message was lost. Units
    are sent longest first (collectors/ordering.py): workers take them in
    that order, so no long unit starts last.
    """
    from celery import chord, current_app, group

    from collectors import tasks

    if not unit_ids:
        tasks.finish_scan.delay(scan_id)
        return
    unit_ids = longest_first(scan_id, unit_ids)
    ScanUnit.objects.filter(pk__in=unit_ids, status=ScanUnit.Status.PENDING).update(
        heartbeat_at=timezone.now()
    )
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
    """The units on ``PARAPET_INPROCESS_CONCURRENCY`` threads, in order.

    Each thread keeps its database connection from unit to unit, as a pool
    process does (opening one per unit cost more than the unit's queries),
    and closes it when the units run out. Every unit is run whatever another
    raised; the first error is raised after.
    """
    workers = settings.PARAPET_INPROCESS_CONCURRENCY
    if workers <= 1:
        for pk in unit_ids:
            run_unit(pk)
        return
    queue = iter(unit_ids)
    taking = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while True:
                with taking:
                    pk = next(queue, None)
                if pk is None:
                    return
                db.close_old_connections()  # past CONN_MAX_AGE, or broken
                try:
                    run_unit(pk)
                except Exception as exc:
                    errors.append(exc)
        finally:
            db.connections.close_all()  # this thread's connection

    threads = [
        threading.Thread(target=work, name=f"unit-{n}", daemon=True)
        for n in range(min(workers, len(unit_ids)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def enabled_regions(collector, account_id: str, scan: Scan) -> set[str]:
    """Regions enabled in the account (ec2:DescribeRegions), asked once per scan.

    The answer is shared through Django's cache (Redis with workers): every
    worker process runs units of every account, and each would otherwise make
    an EC2 client, EC2's being the costliest to make, to ask the same question.
    """
    # started_at tells apart scans of databases that share one Redis.
    key = f"enabled-regions:{account_id}:{scan.pk}:{scan.started_at.timestamp()}"
    found = cache.get(key)
    if found is not None:
        return found
    ec2 = collector.client("ec2", DEFAULT_REGION)
    with collector.counting():
        answer = ec2.describe_regions(AllRegions=True)
    found = {
        r["RegionName"]
        for r in answer["Regions"]
        if r.get("OptInStatus", "opt-in-not-required") in ENABLED_OPT_IN
    }
    cache.set(key, found, timeout=REGIONS_CACHE_SECONDS)
    return found


def _claimable(now: datetime, silent_for: timedelta | None = None) -> Q:
    """Units no worker is collecting: pending, or running without a heartbeat
    for ``silent_for`` (the whole heartbeat timeout unless said)."""
    stale = now - (silent_for or heartbeat_timeout())
    return Q(status=ScanUnit.Status.PENDING) | Q(
        status=ScanUnit.Status.RUNNING, heartbeat_at__lt=stale
    )


def _claim_unit(unit_id: int, *, takeover: bool) -> bool:
    now = timezone.now()
    silent_for = takeover_after() if takeover else None
    return bool(
        ScanUnit.objects.filter(_claimable(now, silent_for), pk=unit_id)
        .exclude(scan_id__in=_cancelled_scans())
        .update(
            status=ScanUnit.Status.RUNNING,
            started_at=now,
            heartbeat_at=now,
            attempts=F("attempts") + 1,
        )
    )


def _cancelled_scans() -> QuerySet:
    """Ids of cancelled scans, for claims that must stay single-table updates.

    Filtering units through a join (``scan__status``) makes Django write
    ``UPDATE … WHERE id IN (SELECT … JOIN …)``, and PostgreSQL does not
    re-check such a subquery after a concurrent claim commits: two deliveries
    of one unit would both claim it. A plain ``scan_id IN (…)`` is re-checked
    on the updated row itself.
    """
    return Scan.objects.filter(status=Scan.Status.CANCELLED).values("pk")


def _skip_cancelled_units(units: QuerySet) -> int:
    """Mark the not-yet-collected units of cancelled scans skipped; no AWS call."""
    now = timezone.now()
    return units.filter(_claimable(now), scan_id__in=_cancelled_scans()).update(
        status=ScanUnit.Status.SKIPPED,
        finished_at=now,
        error_message=CANCELLED_UNIT_MESSAGE,
    )


def run_unit(unit_id: int, *, takeover: bool = False) -> str:
    """Collect one account × region × service; AWS errors are recorded on it.

    ``takeover``: this delivery may replace one that died mid-unit (a
    redelivered message, a retry after a database error). It takes the unit
    over once the unit's heartbeat has been silent for ``takeover_after()``,
    and raises ``UnitBusy`` while it still beats. Any other duplicate of a
    running or finished unit ends at once, without touching AWS.

    Raises a ``DATABASE_ERRORS`` error when the database went away: the unit
    is handed back (pending) if possible, and the task retries it.
    """
    if not _claim_unit(unit_id, takeover=takeover):
        # A unit queued before its scan was cancelled ends here.
        if _skip_cancelled_units(ScanUnit.objects.filter(pk=unit_id)):
            return "skipped: scan cancelled"
        if takeover and _still_beating(unit_id):
            raise UnitBusy(takeover_after().total_seconds())
        return "skipped: not claimable"
    unit = ScanUnit.objects.select_related("scan", "account__organization").get(
        pk=unit_id
    )
    try:
        return _collect_unit(unit)
    except UnitLost:
        log.warning("unit %s was taken over or reaped; its worker stops", unit_id)
        return "abandoned: no longer this worker's"
    except DATABASE_ERRORS as exc:
        log.warning(
            "unit %s: database connection lost (%s); handed back for a retry",
            unit_id,
            type(exc).__name__,
        )
        _hand_back(unit)
        raise


def _still_beating(unit_id: int) -> bool:
    return ScanUnit.objects.filter(pk=unit_id, status=ScanUnit.Status.RUNNING).exists()


def _hand_back(unit: ScanUnit) -> None:
    """After a database error: the unit back to pending, for the task's retry.

    The broken connection is dropped first. If the database is still away the
    unit stays running; the retry takes it over once its heartbeat is silent.
    """
    db.close_old_connections()
    try:
        owned(unit).update(status=ScanUnit.Status.PENDING, heartbeat_at=timezone.now())
    except DATABASE_ERRORS:
        db.close_old_connections()
        log.warning("unit %s: database still unavailable", unit.pk)


def _collect_unit(unit: ScanUnit) -> str:
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
            collector, account.account_id, scan
        ):
            _finish_unit(
                unit,
                ScanUnit.Status.SKIPPED,
                collector,
                error_kind=ErrorKind.REGION_DISABLED,
                error_message=f"{unit.region} is not enabled in this account",
            )
            return "skipped: region not enabled"
        heartbeat = Heartbeat(unit)
        stored = store_records(
            unit, heartbeat.stream(collector.collect()), scan.started_at
        )
        heartbeat.beat()
        mark_missing_deleted(unit, stored.seen_ids, scan.started_at)
        unit.resources = stored.resources
        unit.snapshots_written = stored.snapshots_written
        _finish_unit(unit, ScanUnit.Status.OK, collector)
        return "ok"
    except (UnitLost, *DATABASE_ERRORS):
        raise
    except Exception as exc:  # a unit never takes its scan down
        kind, message = classify(exc)
        # A call the endpoint does not implement is a simulator's gap, shown
        # on the scan page; anything else deserves an operator's attention.
        log.log(
            logging.INFO if kind == ErrorKind.UNSUPPORTED else logging.WARNING,
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
    """Record the unit's outcome, if the unit is still this worker's."""
    finished = owned(unit).update(
        status=status,
        error_kind=error_kind,
        error_message=error_message,
        finished_at=timezone.now(),
        api_calls=collector.api_calls if collector else 0,
        resources=unit.resources,
        snapshots_written=unit.snapshots_written,
    )
    if not finished:
        raise UnitLost(f"unit {unit.pk} is no longer this worker's")


#: First key of the advisory locks that serialise the finishing of one scan.
FINISH_LOCK_SPACE = 0x50415250  # "PARP"


@contextmanager
def _finishing(scan_id: int) -> Iterator[bool]:
    """Hold the scan's finish lock if no other delivery does (True), else False.

    A session-level advisory lock: two deliveries of ``finish_scan`` (a
    redelivered chord callback, the reaper) must not evaluate one scan at
    once. A connection that dies releases it.
    """
    with db.connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", [FINISH_LOCK_SPACE, scan_id]
        )
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with db.connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_unlock(%s, %s)", [FINISH_LOCK_SPACE, scan_id]
                )


def finish_scan(scan_id: int) -> None:
    """Evaluate the controls and settle the scan's status. Safe to re-run."""
    with _finishing(scan_id) as held:
        if held:
            _finish_scan(scan_id)


def _finish_scan(scan_id: int) -> None:
    from findings.engine import evaluate_scan

    # Never while a unit is still collecting: a second chord (units sent
    # again by the reaper) may end before the first; the last one finishes.
    unfinished = ScanUnit.objects.filter(scan=OuterRef("pk"), status__in=UNFINISHED)
    claimed = (
        Scan.objects.filter(
            pk=scan_id, status__in=[Scan.Status.RUNNING, Scan.Status.EVALUATING]
        )
        .exclude(Exists(unfinished))
        .update(status=Scan.Status.EVALUATING)
    )
    if not claimed:
        # A cancelled scan's units that were collecting when it was cancelled
        # have ended by now (this is the chord's callback): count them in.
        Scan.objects.filter(pk=scan_id, status=Scan.Status.CANCELLED).count_units()
        return
    scan = Scan.objects.get(pk=scan_id)
    evaluate_scan(scan)
    with transaction.atomic():
        # Every unit has ended (the claim above): the counters are final, and
        # they become visible with the status.
        Scan.objects.filter(pk=scan_id).count_units()
        scan.refresh_from_db()
        if scan.counted_ok == 0 and scan.counted_failed:
            status = Scan.Status.FAILED
            message = "No unit could be collected."
        elif scan.counted_failed:
            status = Scan.Status.PARTIAL
            message = (
                f"{scan.counted_failed} of {scan.counted_total} units "
                "could not be collected."
            )
        else:
            status = Scan.Status.FINISHED
            message = ""
        # Conditional: a scan cancelled during evaluation stays cancelled.
        Scan.objects.filter(pk=scan_id, status=Scan.Status.EVALUATING).update(
            status=status, finished_at=timezone.now(), message=message
        )
        transaction.on_commit(lambda: _warm_dashboard(scan.organization_id))


def _warm_dashboard(organization_id: int) -> None:
    """The overview's figures computed now rather than by its first reader; a
    failure costs that reader the wait, never the scan."""
    from findings.tasks import warm_dashboard

    try:
        warm_dashboard.delay(organization_id)
    except Exception:
        log.exception("could not warm organization %s's dashboard", organization_id)


def cancel_scan(scan_id: int, *, by: str) -> bool:
    """Cancel a scan still in progress; False if it was already done.

    Its pending units are marked skipped at once and never collected; units
    being collected right now finish (what they stored is a real observation).
    ``finish_scan`` then finds it cancelled and does not evaluate it, so a
    cancelled scan never becomes the dashboard's "now".
    """
    now = timezone.now()
    with transaction.atomic():
        cancelled = Scan.objects.filter(
            pk=scan_id, status__in=Scan.ACTIVE_STATUSES
        ).update(
            status=Scan.Status.CANCELLED,
            finished_at=now,
            message=f"Cancelled by {by} at {now:%Y-%m-%d %H:%M} UTC.",
        )
        if cancelled:
            _skip_cancelled_units(ScanUnit.objects.filter(scan_id=scan_id))
            # Units still collecting are counted again when they end
            # (_finish_scan, or the reaper if their worker is gone).
            Scan.objects.filter(pk=scan_id).count_units()
    return bool(cancelled)


def wait_for_scan(scan: Scan, timeout: float = 3600, poll: float = 1.0) -> Scan:
    """Block until the scan is done (or the timeout passes); returns it fresh."""
    deadline = time.monotonic() + timeout
    while True:
        scan.refresh_from_db()
        if scan.is_done or time.monotonic() > deadline:
            return scan
        time.sleep(poll)
