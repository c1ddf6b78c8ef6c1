"""The evaluation engine: controls over the current snapshots, after a scan.

Only resources collected successfully in this scan are evaluated. A finding on
a resource whose unit failed keeps its earlier status and counts as unknown in
the scan's rollups: unknown is never pass. Only changes are written, so an
unchanged rescan writes no findings and no finding changes, and re-evaluating
a scan rewrites no rollup whose counts are the same.

The engine's own work per evaluation is kept to what a bare loop over the
controls cannot avoid: the inputs are read as plain rows (no model instances),
each result is compared with the stored finding through one dict lookup, and
model instances are built only for the findings that change.
"""

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import NamedTuple

from django.db import connection, transaction

from accounts.aws_errors import ErrorKind
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

#: Rollup counters, in the order of ``_count_rollups``' tuples and the upsert.
ROLLUP_COUNTS = (
    "passed",
    "failed",
    "errors",
    "not_applicable",
    "unknown",
    "suppressed",
)
_COUNT_OF = {
    Status.PASS: 0,
    Status.FAIL: 1,
    Status.ERROR: 2,
    Status.NOT_APPLICABLE: 3,
    "UNKNOWN": 4,
    "SUPPRESSED": 5,
}


@dataclass
class AccountEvaluation:
    evaluated: int = 0
    created: int = 0
    changed: int = 0


@dataclass(frozen=True, slots=True)
class _Stored:
    """The columns of a stored finding the comparison needs."""

    pk: int
    status: str
    reason: str


def controls_in_scope(services: list[str]) -> list[Control]:
    in_scope = set(services)
    return [
        c for c in REGISTRY.values() if service_for_type(c.resource_type) in in_scope
    ]


def run_control(control: Control, view: ResourceView, ctx: StaticContext) -> Result:
    try:
        return control.evaluate(view, ctx)
    except Exception as exc:  # one broken control must not stop the others
        log.exception("control %s failed on %s", control.id, view.resource_id)
        return error(f"The check itself failed ({type(exc).__name__}); see the logs.")


class Unit(NamedTuple):
    """The columns of a scan unit the engine reads."""

    account_id: int
    service: str
    region: str
    status: str
    error_kind: str


def evaluate_scan(scan: Scan) -> Counter:
    controls = controls_in_scope(scan.services)
    units_by_account: dict[int, list[Unit]] = defaultdict(list)
    for row in scan.units.order_by().values_list(*Unit._fields):
        unit = Unit(*row)
        units_by_account[unit.account_id].append(unit)
    totals: Counter = Counter()
    for account in Account.objects.filter(pk__in=units_by_account):
        result = evaluate_account(scan, account, units_by_account[account.pk], controls)
        totals.update(result.__dict__)
    return totals


def _uncollected(scan: Scan, units: list[Unit]) -> dict:
    """Resource types (or (type, region)) this scan did not collect, with why."""
    missing: dict = {}
    for service, cls in COLLECTORS.items():
        if service not in scan.services:
            for rtype in cls.resource_types:
                missing[rtype] = "service not in this scan's scope"
    for unit in units:
        if unit.status in (ScanUnit.Status.OK, ScanUnit.Status.SKIPPED):
            continue
        reason = (
            ErrorKind(unit.error_kind).label
            if unit.error_kind in ErrorKind
            else unit.error_kind or unit.status
        )
        for rtype in COLLECTORS[unit.service].resource_types:
            if unit.region == GLOBAL_REGION:
                missing[rtype] = reason
            else:
                missing[(rtype, unit.region)] = reason
    return missing


@dataclass
class _Inputs:
    """One account's live resources, and the views of those collected now."""

    live_ids: set[int]
    # (resource pk, view, current snapshot pk) of the freshly collected.
    fresh: list[tuple[int, ResourceView, int]]


def _load_inputs(account: Account, ok_scopes: set[tuple[str, str]]) -> _Inputs:
    """Live resources with a snapshot, as plain rows (no model instances)."""
    rows = (
        Resource.objects.filter(account=account, deleted_at__isnull=True)
        .exclude(current_snapshot__isnull=True)
        .values_list(
            "pk",
            "service",
            "unit_region",
            "current_snapshot_id",
            # ResourceView's fields after account_id, in its order.
            "region",
            "resource_type",
            "resource_id",
            "current_snapshot__config",
            "arn",
            "name",
            "current_snapshot__tags",
        )
    )
    inputs = _Inputs(live_ids=set(), fresh=[])
    for pk, service, unit_region, snapshot_id, *fields in rows:
        inputs.live_ids.add(pk)
        if (service, unit_region) in ok_scopes:
            view = ResourceView(account.account_id, *fields)
            inputs.fresh.append((pk, view, snapshot_id))
    return inputs


def evaluate_account(
    scan: Scan, account: Account, units: list[Unit], controls: list[Control]
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

    inputs = _load_inputs(account, ok_scopes)
    by_type: dict[str, list[ResourceView]] = defaultdict(list)
    for _pk, view, _snapshot_id in inputs.fresh:
        by_type[view.resource_type].append(view)
    ctx = StaticContext(
        account_id=account.account_id,
        now=clock,
        regions=regions,
        by_type=dict(by_type),
        uncollected=_uncollected(scan, units),
    )

    existing = {
        (resource_id, control_id): _Stored(pk, status, reason)
        for pk, resource_id, control_id, status, reason in Finding.objects.filter(
            account=account
        ).values_list("pk", "resource_id", "control_id", "status", "reason")
    }
    new_findings: list[Finding] = []
    updated: list[Finding] = []  # status changed
    reworded: list[Finding] = []  # same status, new reason
    changes: list[tuple[Finding, str, str]] = []  # (finding, old status, reason)
    statuses: dict[tuple[int, str], str] = {}

    for pk, view, snapshot_id in inputs.fresh:
        for control in by_type_controls.get(view.resource_type, ()):
            result = run_control(control, view, ctx)
            key = (pk, control.id)
            statuses[key] = result.status
            stored = existing.get(key)
            if stored is None:
                finding = Finding(
                    account=account,
                    resource_id=pk,
                    control_id=control.id,
                    status=result.status,
                    reason=result.reason,
                    first_seen=clock,
                    last_changed=clock,
                    snapshot_id=snapshot_id,
                    scan=scan,
                )
                new_findings.append(finding)
                changes.append((finding, "", result.reason))
            elif stored.status != result.status:
                finding = Finding(
                    pk=stored.pk,
                    status=result.status,
                    reason=result.reason,
                    last_changed=clock,
                    snapshot_id=snapshot_id,
                    scan=scan,
                )
                updated.append(finding)
                changes.append((finding, stored.status, result.reason))
            elif stored.reason != result.reason:
                reworded.append(Finding(pk=stored.pk, reason=result.reason))

    fresh_ids = {pk for pk, _view, _snapshot_id in inputs.fresh}
    rollups = _count_rollups(
        Matcher.for_account(account, clock),
        statuses,
        (
            control_id
            for resource_id, control_id in existing
            if resource_id in inputs.live_ids and resource_id not in fresh_ids
        ),
    )
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
        _write_rollups(scan.pk, account.pk, clock, rollups)
    return AccountEvaluation(
        evaluated=len(statuses),
        created=len(new_findings),
        changed=len(changes) - len(new_findings),
    )


def _count_rollups(
    matcher: Matcher,
    statuses: dict[tuple[int, str], str],
    unknown_control_ids: Iterable[str],
) -> dict[str, list[int]]:
    """Counts per control, in ``ROLLUP_COUNTS`` order.

    FAIL/ERROR under an exception in force at the scan's clock count as
    suppressed instead (never as passed); findings of live resources not
    collected in this scan count as unknown, whatever they were.
    """
    if matcher:
        tally = Counter(
            (
                control_id,
                "SUPPRESSED"
                if status in SUPPRESSIBLE and matcher.covers(resource_id, control_id)
                else status,
            )
            for (resource_id, control_id), status in statuses.items()
        )
    else:
        tally = Counter(
            (control_id, status) for (_r, control_id), status in statuses.items()
        )
    tally.update((control_id, "UNKNOWN") for control_id in unknown_control_ids)
    counts: dict[str, list[int]] = {}
    for (control_id, status), n in tally.items():
        if control_id in REGISTRY:
            counts.setdefault(control_id, [0] * len(ROLLUP_COUNTS))[
                _COUNT_OF[status]
            ] += n
    return counts


def _write_rollups(
    scan_id: int, account_id: int, at: datetime, counts: dict[str, list[int]]
) -> None:
    """One scan × account's rollups in one statement: upsert the rows whose
    counts differ (re-running an unchanged evaluation writes nothing) and
    delete those of controls no longer counted.

    The rows travel as one JSON parameter: quoting arrays of a few hundred
    values cost more than the statement itself.
    """
    rows = [
        {"control_id": c, "section": REGISTRY[c].section}
        | dict(zip(ROLLUP_COUNTS, n, strict=True))
        for c, n in counts.items()
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            _rollup_sql(),
            [json.dumps(rows), scan_id, account_id, at, scan_id, account_id],
        )


@cache
def _rollup_sql() -> str:
    """The statement of ``_write_rollups`` (identifiers from the model)."""
    table = ControlRollup._meta.db_table
    counts = ", ".join(ROLLUP_COUNTS)
    types = ", ".join(f"{c} integer" for c in ROLLUP_COUNTS)
    fields = ("at", "section", *ROLLUP_COUNTS)
    stored = ", ".join(f"old.{f}" for f in fields)
    new = ", ".join(f"EXCLUDED.{f}" for f in fields)
    return f"""
        WITH counted AS (
            SELECT * FROM jsonb_to_recordset(%s::jsonb)
                AS r(control_id varchar, section varchar, {types})
        ), upsert AS (
            INSERT INTO {table} AS old
                (scan_id, account_id, at, control_id, section, {counts})
            SELECT %s, %s, %s, counted.* FROM counted
            ON CONFLICT (scan_id, account_id, control_id) DO UPDATE
            SET ({", ".join(fields)}) = ({new})
            WHERE ({stored}) IS DISTINCT FROM ({new})
        )
        DELETE FROM {table}
        WHERE scan_id = %s AND account_id = %s
          AND control_id NOT IN (SELECT control_id FROM counted)
    """  # noqa: S608
