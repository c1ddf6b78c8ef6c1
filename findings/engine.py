"""The evaluation engine: controls over the current snapshots, after a scan.

Only resources collected successfully in this scan are evaluated. A finding on
a resource whose unit failed keeps its earlier status and counts as unknown in
the scan's rollups: unknown is never pass. Only changes are written, so an
unchanged rescan writes no findings and no finding changes.
"""

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db import transaction

from accounts.models import Account
from collectors.base import COLLECTORS, service_for_type
from collectors.models import GLOBAL_REGION, Resource, Scan, ScanUnit
from findings.controls import REGISTRY, Control
from findings.controls.base import (
    ResourceView,
    Result,
    StaticContext,
    Status,
    error,
)
from findings.models import ControlRollup, Finding, FindingChange
from findings.suppressions import SUPPRESSIBLE, Matcher

log = logging.getLogger(__name__)


@dataclass
class AccountEvaluation:
    evaluated: int = 0
    created: int = 0
    changed: int = 0


def controls_in_scope(services: list[str]) -> list[Control]:
    return [
        c
        for c in REGISTRY.values()
        if service_for_type(c.resource_type) in set(services)
    ]


def run_control(control: Control, view: ResourceView, ctx: StaticContext) -> Result:
    try:
        return control.evaluate(view, ctx)
    except Exception as exc:  # one broken control must not stop the others
        log.exception("control %s failed on %s", control.id, view.resource_id)
        return error(f"The check itself failed ({type(exc).__name__}); see the logs.")


def evaluate_scan(scan: Scan) -> Counter:
    controls = controls_in_scope(scan.services)
    units_by_account: dict[int, list[ScanUnit]] = defaultdict(list)
    for unit in scan.units.all():
        units_by_account[unit.account_id].append(unit)
    totals: Counter = Counter()
    for account in Account.objects.filter(pk__in=units_by_account):
        result = evaluate_account(scan, account, units_by_account[account.pk], controls)
        totals.update(result.__dict__)
    return totals


def _uncollected(scan: Scan, units: list[ScanUnit]) -> dict:
    """Resource types (or (type, region)) this scan did not collect, with why."""
    missing: dict = {}
    for service, cls in COLLECTORS.items():
        if service not in scan.services:
            for rtype in cls.resource_types:
                missing[rtype] = "service not in this scan's scope"
    for unit in units:
        if unit.status in (ScanUnit.Status.OK, ScanUnit.Status.SKIPPED):
            continue
        reason = unit.get_error_kind_display() if unit.error_kind else unit.status
        for rtype in COLLECTORS[unit.service].resource_types:
            if unit.region == GLOBAL_REGION:
                missing[rtype] = reason
            else:
                missing[(rtype, unit.region)] = reason
    return missing


def evaluate_account(
    scan: Scan, account: Account, units: list[ScanUnit], controls: list[Control]
) -> AccountEvaluation:
    clock = scan.started_at
    ok_scopes = {(u.service, u.region) for u in units if u.status == ScanUnit.Status.OK}
    regions = sorted(
        {
            u.region
            for u in units
            if u.region != GLOBAL_REGION and u.status != ScanUnit.Status.SKIPPED
        }
    )
    by_type_controls: dict[str, list[Control]] = defaultdict(list)
    for c in controls:
        by_type_controls[c.resource_type].append(c)

    resources = list(
        Resource.objects.filter(account=account, deleted_at__isnull=True)
        .exclude(current_snapshot__isnull=True)
        .select_related("current_snapshot")
    )
    fresh = [r for r in resources if (r.service, r.unit_region) in ok_scopes]
    fresh_ids = {r.pk for r in fresh}
    views: dict[int, ResourceView] = {}
    by_type: dict[str, list[ResourceView]] = defaultdict(list)
    for r in fresh:
        snap = r.current_snapshot
        v = ResourceView(
            account_id=account.account_id,
            region=r.region,
            resource_type=r.resource_type,
            resource_id=r.resource_id,
            config=snap.config,
            arn=r.arn,
            name=r.name,
            tags=snap.tags,
        )
        views[r.pk] = v
        by_type[r.resource_type].append(v)
    ctx = StaticContext(
        account_id=account.account_id,
        now=clock,
        regions=regions,
        by_type=dict(by_type),
        uncollected=_uncollected(scan, units),
    )

    existing = {
        (f.resource_id, f.control_id): f
        for f in Finding.objects.filter(account=account).only(
            "pk", "resource_id", "control_id", "status", "reason"
        )
    }
    outcome = AccountEvaluation()
    new_findings: list[Finding] = []
    updated: list[Finding] = []  # status changed
    reworded: list[Finding] = []  # same status, new reason
    changes: list[tuple[Finding, str, str]] = []  # (finding, old status, reason)
    statuses: dict[tuple[int, str], str] = {}
    snapshot_of = {r.pk: r.current_snapshot_id for r in fresh}

    for r in fresh:
        for control in by_type_controls.get(r.resource_type, ()):
            result = run_control(control, views[r.pk], ctx)
            outcome.evaluated += 1
            statuses[(r.pk, control.id)] = result.status
            finding = existing.get((r.pk, control.id))
            if finding is None:
                finding = Finding(
                    account=account,
                    resource_id=r.pk,
                    control_id=control.id,
                    status=result.status,
                    reason=result.reason,
                    first_seen=clock,
                    last_changed=clock,
                    snapshot_id=snapshot_of[r.pk],
                    scan=scan,
                )
                new_findings.append(finding)
                changes.append((finding, "", result.reason))
            elif finding.status != result.status:
                changes.append((finding, finding.status, result.reason))
                finding.status = result.status
                finding.reason = result.reason
                finding.last_changed = clock
                finding.snapshot_id = snapshot_of[r.pk]
                finding.scan = scan
                updated.append(finding)
            elif finding.reason != result.reason:
                finding.reason = result.reason
                reworded.append(finding)

    with transaction.atomic():
        Finding.objects.bulk_create(new_findings, batch_size=1000)
        Finding.objects.bulk_update(
            updated,
            ["status", "reason", "last_changed", "snapshot", "scan"],
            batch_size=1000,
        )
        Finding.objects.bulk_update(reworded, ["reason"], batch_size=1000)
        FindingChange.objects.bulk_create(
            [
                FindingChange(
                    finding=finding,
                    scan=scan,
                    at=clock,
                    old_status=old,
                    new_status=finding.status,
                    reason=reason,
                    snapshot_id=finding.snapshot_id,
                )
                for finding, old, reason in changes
            ],
            ignore_conflicts=True,  # a re-run of this scan's evaluation
        )
        _write_rollups(scan, account, existing, statuses, fresh_ids, resources)
    outcome.created = len(new_findings)
    outcome.changed = len(changes) - len(new_findings)
    return outcome


def _write_rollups(scan, account, existing, statuses, fresh_ids, resources) -> None:
    """Counts per control; FAIL/ERROR under an exception in force at the scan's
    clock count as suppressed instead (never as passed)."""
    live_ids = {r.pk for r in resources}
    matcher = Matcher.for_account(account, scan.started_at)
    counts: dict[str, Counter] = defaultdict(Counter)
    for (resource_id, control_id), status in statuses.items():
        if status in SUPPRESSIBLE and matcher.covers(resource_id, control_id):
            status = "SUPPRESSED"
        counts[control_id][status] += 1
    for resource_id, control_id in existing:
        if resource_id in live_ids and resource_id not in fresh_ids:
            # Collected before, not in this scan: unknown, whatever it was.
            counts[control_id]["UNKNOWN"] += 1
    rows = []
    for control_id, c in counts.items():
        control = REGISTRY.get(control_id)
        if control is None:
            continue
        rows.append(
            ControlRollup(
                scan=scan,
                account=account,
                control_id=control_id,
                section=control.section,
                at=scan.started_at,
                passed=c[Status.PASS],
                failed=c[Status.FAIL],
                errors=c[Status.ERROR],
                not_applicable=c[Status.NOT_APPLICABLE],
                unknown=c["UNKNOWN"],
                suppressed=c["SUPPRESSED"],
            )
        )
    ControlRollup.objects.filter(scan=scan, account=account).delete()
    ControlRollup.objects.bulk_create(rows)
