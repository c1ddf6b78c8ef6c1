"""The evaluation engine: controls over the current snapshots, after a scan.

Only resources collected successfully in this scan are evaluated. A finding on
a resource whose unit failed keeps its earlier status and counts as unknown in
the scan's rollups: unknown is never pass. Only changes are written, so an
unchanged rescan writes no findings and no finding changes, and re-evaluating
a scan rewrites no rollup whose counts are the same (nor bumps the rollup
version the dashboard's cache keys on).

The engine's own work per evaluation is kept to what a bare loop over the
controls cannot avoid. Accounts are evaluated in batches: per batch, one read
of the resources with their snapshots, one of the findings and one of the
rollups, all as plain rows (no model instances); each result is compared with
the stored finding through one dict lookup and counted in place; statements
are sent only for what changed. The exceptions in force are read once per
scan.
"""

import json
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import NamedTuple

import orjson
from django.db import connection, transaction
from django.db.models import Q

from accounts.aws_errors import ErrorKind
from accounts.models import Account
from collectors.base import COLLECTORS, service_for_type
from collectors.models import GLOBAL_REGION, Resource, Scan, ScanUnit, Snapshot
from config.warmup import collector_paused
from findings.controls import REGISTRY, Control
from findings.controls.base import (
    ResourceView,
    Result,
    StaticContext,
    Status,
    error,
)
from findings.models import (
    ROLLUP_COUNTS,
    ControlRollup,
    Finding,
    FindingChange,
    Suppression,
)
from findings.suppressions import SUPPRESSIBLE, Matcher

log = logging.getLogger(__name__)

#: Accounts read, evaluated and written together. Large enough that the
#: statements' fixed cost is shared by many small accounts; small enough that
#: a batch's rows (a few accounts' resources and findings) fit in a worker.
ACCOUNTS_PER_BATCH = 20

_COUNT_OF = {
    Status.PASS: 0,
    Status.FAIL: 1,
    Status.ERROR: 2,
    Status.NOT_APPLICABLE: 3,
    "UNKNOWN": 4,
    "SUPPRESSED": 5,
}
_UNKNOWN = _COUNT_OF["UNKNOWN"]
_SUPPRESSED = _COUNT_OF["SUPPRESSED"]


@dataclass
class AccountEvaluation:
    evaluated: int = 0
    created: int = 0
    changed: int = 0


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


@dataclass
class _Account:
    """One account of the scan: its AWS id, its units, and what comes of them."""

    pk: int
    aws_id: str
    organization_id: int
    units: list[Unit] = field(default_factory=list)
    matcher: Matcher = field(default_factory=Matcher)
    # (resource pk, view, current snapshot pk) of the freshly collected.
    fresh: list[tuple[int, ResourceView, int]] = field(default_factory=list)
    # control id -> counts in ROLLUP_COUNTS order.
    counts: dict[str, list[int]] = field(default_factory=dict)


def evaluate_scan(scan: Scan) -> Counter:
    """Evaluate the scan's controls on what it collected; totals of
    ``AccountEvaluation``'s fields over its accounts."""
    by_type: dict[str, list[Control]] = defaultdict(list)
    for control in controls_in_scope(scan.services):
        by_type[control.resource_type].append(control)
    accounts: dict[int, _Account] = {}
    for *fields, aws_id, organization_id in _fetch(_units_sql(), [scan.pk]):
        unit = Unit(*fields)
        account = accounts.get(unit.account_id)
        if account is None:
            account = accounts[unit.account_id] = _Account(
                unit.account_id, aws_id, organization_id
            )
        account.units.append(unit)
    _load_matchers(accounts, scan.started_at)

    totals: Counter = Counter()
    batch = list(accounts.values())
    for start in range(0, len(batch), ACCOUNTS_PER_BATCH):
        with collector_paused():
            result = _evaluate_batch(
                scan, batch[start : start + ACCOUNTS_PER_BATCH], dict(by_type)
            )
        totals.update(result.__dict__)
    return totals


def _load_matchers(accounts: dict[int, _Account], now: datetime) -> None:
    """The exceptions in force at ``now`` for every account, in one query.

    The same rule as ``Matcher.for_account``: the account's own exceptions
    (resource and account scope) and its organization's control-wide ones.
    """
    if not accounts:
        return
    organization_wide: dict[int, set[str]] = defaultdict(set)
    rows = (
        Suppression.objects.active(now)
        .filter(
            Q(account_id__in=list(accounts))
            | Q(
                scope=Suppression.Scope.CONTROL,
                organization_id__in={a.organization_id for a in accounts.values()},
            )
        )
        .values_list(
            "scope", "organization_id", "account_id", "resource_id", "control_id"
        )
    )
    for scope, organization_id, account_id, resource_id, control_id in rows:
        if scope == Suppression.Scope.CONTROL:
            organization_wide[organization_id].add(control_id)
        elif scope == Suppression.Scope.RESOURCE:
            accounts[account_id].matcher.resource_keys.add((resource_id, control_id))
        else:
            accounts[account_id].matcher.control_ids.add(control_id)
    for account in accounts.values():
        account.matcher.control_ids |= organization_wide.get(
            account.organization_id, set()
        )


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


def _context(scan: Scan, account: _Account) -> StaticContext:
    regions = sorted(
        {
            u.region
            for u in account.units
            if u.region != GLOBAL_REGION and u.status != ScanUnit.Status.SKIPPED
        }
    )
    by_type: dict[str, list[ResourceView]] = defaultdict(list)
    for _pk, view, _snapshot_id in account.fresh:
        by_type[view.resource_type].append(view)
    return StaticContext(
        account_id=account.aws_id,
        now=scan.started_at,
        regions=regions,
        by_type=dict(by_type),
        uncollected=_uncollected(scan, account.units),
    )


def _load_resources(accounts: dict[int, _Account]) -> set[int]:
    """Fill each account's fresh views; the pks of the live resources that
    were not collected in this scan (their findings count as unknown)."""
    ok_scopes = {
        (u.account_id, u.service, u.region)
        for a in accounts.values()
        for u in a.units
        if u.status == ScanUnit.Status.OK
    }
    stale: set[int] = set()
    loads = _loads
    for account_id, pk, service, unit_region, snapshot_id, *fields in _fetch(
        _resources_sql(), [list(accounts)]
    ):
        if (account_id, service, unit_region) in ok_scopes:
            region, rtype, resource_id, config, arn, name, tags = fields
            view = ResourceView(
                accounts[account_id].aws_id,
                region,
                rtype,
                resource_id,
                loads(config),
                arn,
                name,
                loads(tags) if tags else {},
            )
            accounts[account_id].fresh.append((pk, view, snapshot_id))
        else:
            stale.add(pk)
    return stale


def _loads(text: str):
    """A stored JSON document parsed: by orjson, twice as fast as ``json``
    on configurations; by ``json`` for what orjson refuses and PostgreSQL
    stores (numbers beyond a double, such as 1e400). orjson reads integers
    beyond 64 bits as floats; no AWS API returns one."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _fetch(sql: str, params: list) -> list[tuple]:
    """All rows of a read, as tuples. The engine's reads skip the ORM: its
    query compilation and per-row converters were a fair share of a
    re-evaluation. JSON columns arrive as text (Django registers a text
    loader for jsonb with psycopg 3); the caller parses them."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@cache
def _units_sql() -> str:
    """The units of the scan ``%s`` with their account's AWS id and
    organization, by account."""
    return f"""
        SELECT u.{", u.".join(Unit._fields)}, a.account_id, a.organization_id
        FROM {ScanUnit._meta.db_table} u
        JOIN {Account._meta.db_table} a ON a.id = u.account_id
        WHERE u.scan_id = %s ORDER BY u.account_id
    """  # noqa: S608


@cache
def _resources_sql() -> str:
    """Live resources with a current snapshot, of the accounts ``%s``."""
    resource, snapshot = Resource._meta.db_table, Snapshot._meta.db_table
    # Most resources have no tags: NULL is cheaper to fetch and parse than '{}'.
    return f"""
        SELECT r.account_id, r.id, r.service, r.unit_region, r.current_snapshot_id,
            r.region, r.resource_type, r.resource_id, s.config, r.arn, r.name,
            NULLIF(s.tags, '{{}}'::jsonb)
        FROM {resource} r JOIN {snapshot} s ON s.id = r.current_snapshot_id
        WHERE r.account_id = ANY(%s) AND r.deleted_at IS NULL
    """  # noqa: S608


@cache
def _findings_sql() -> str:
    """Every finding of the accounts ``%s``; ``_evaluate_batch`` indexes
    its columns (3: pk, 4: status, 5: reason)."""
    return f"""
        SELECT account_id, resource_id, control_id, id, status, reason
        FROM {Finding._meta.db_table} WHERE account_id = ANY(%s)
    """  # noqa: S608


def _evaluate_batch(
    scan: Scan, batch: list[_Account], controls: dict[str, list[Control]]
) -> AccountEvaluation:
    clock = scan.started_at
    accounts = {a.pk: a for a in batch}
    stale = _load_resources(accounts)

    # The stored findings by (resource pk, control id), as rows of
    # ``_findings_sql``; those of live resources not collected now count as
    # unknown.
    existing: dict[tuple[int, str], tuple] = {}
    for row in _fetch(_findings_sql(), [list(accounts)]):
        account_id, resource_id, control_id = row[:3]
        existing[resource_id, control_id] = row
        if resource_id in stale and control_id in REGISTRY:
            counts = accounts[account_id].counts
            if control_id not in counts:
                counts[control_id] = [0] * len(ROLLUP_COUNTS)
            counts[control_id][_UNKNOWN] += 1

    new: list[tuple[int, int, str, Result, int]] = []  # account, resource, ...
    updated: list[tuple[int, str, Result, int]] = []  # finding pk, old status, ...
    reworded: list[tuple[int, str]] = []  # finding pk, reason
    run = run_control
    index_of = _COUNT_OF
    evaluated = 0
    for account in batch:
        ctx = _context(scan, account)
        covers = account.matcher.covers if account.matcher else None
        counts = account.counts
        for pk, view, snapshot_id in account.fresh:
            type_controls = controls.get(view.resource_type, ())
            evaluated += len(type_controls)
            for control in type_controls:
                result = run(control, view, ctx)
                status = result.status
                control_id = control.id
                stored = existing.get((pk, control_id))
                if stored is None:
                    new.append((account.pk, pk, control_id, result, snapshot_id))
                elif stored[4] != status:
                    updated.append((stored[3], stored[4], result, snapshot_id))
                elif stored[5] != result.reason:
                    reworded.append((stored[3], result.reason))
                tally = counts.get(control_id)
                if tally is None:
                    tally = counts[control_id] = [0] * len(ROLLUP_COUNTS)
                if covers and status in SUPPRESSIBLE and covers(pk, control_id):
                    tally[_SUPPRESSED] += 1
                else:
                    tally[index_of[status]] += 1

    rollups, obsolete = _rollup_changes(scan, batch)
    if new or updated or reworded or rollups or obsolete:
        with transaction.atomic():
            _write_findings(scan, new, updated, reworded)
            _write_rollups(scan.pk, clock, rollups, obsolete)
    for account in batch:  # memory stays one batch's, whatever the scan's size
        account.fresh, account.counts = [], {}
    return AccountEvaluation(
        evaluated=evaluated, created=len(new), changed=len(updated)
    )


def _write_findings(
    scan: Scan,
    new: list[tuple[int, int, str, Result, int]],
    updated: list[tuple[int, str, Result, int]],
    reworded: list[tuple[int, str]],
) -> None:
    """New findings, status changes (each with its FindingChange) and new
    wordings of an unchanged status."""
    clock = scan.started_at
    changes: list[tuple[Finding, str]] = []  # (finding, old status)
    created = [
        Finding(
            account_id=account_id,
            resource_id=resource_id,
            control_id=control_id,
            status=result.status,
            reason=result.reason,
            first_seen=clock,
            last_changed=clock,
            snapshot_id=snapshot_id,
            scan=scan,
        )
        for account_id, resource_id, control_id, result, snapshot_id in new
    ]
    Finding.objects.bulk_create(created, batch_size=1000)
    changes.extend((finding, "") for finding in created)
    flipped = [
        Finding(
            pk=pk,
            status=result.status,
            reason=result.reason,
            last_changed=clock,
            snapshot_id=snapshot_id,
            scan=scan,
        )
        for pk, _old, result, snapshot_id in updated
    ]
    Finding.objects.bulk_update(
        flipped,
        ["status", "reason", "last_changed", "snapshot", "scan"],
        batch_size=1000,
    )
    changes.extend(
        (finding, old)
        for finding, (_pk, old, *_r) in zip(flipped, updated, strict=True)
    )
    Finding.objects.bulk_update(
        [Finding(pk=pk, reason=reason) for pk, reason in reworded],
        ["reason"],
        batch_size=1000,
    )
    FindingChange.objects.bulk_create(
        [
            FindingChange(
                finding=finding,
                scan=scan,
                at=clock,
                old_status=old,
                new_status=finding.status,
                reason=finding.reason,
                snapshot_id=finding.snapshot_id,
            )
            for finding, old in changes
        ],
        ignore_conflicts=True,  # a re-run of this scan's evaluation
    )


def _rollup_changes(scan: Scan, batch: list[_Account]) -> tuple[list[dict], list[int]]:
    """The rollup rows to upsert (new, or counts that differ from the stored
    ones) and the pks of stored rows of controls no longer counted."""
    stored = {
        (row[0], row[1]): row
        for row in _fetch(
            _stored_rollups_sql(), [scan.started_at, scan.pk, [a.pk for a in batch]]
        )
    }
    upserts: list[dict] = []
    for account in batch:
        for control_id, counts in account.counts.items():
            section = REGISTRY[control_id].section
            old = stored.pop((account.pk, control_id), None)
            if old is None or old[3:] != (True, section, *counts):
                upserts.append(
                    {"account_id": account.pk, "control_id": control_id}
                    | {"section": section}
                    | dict(zip(ROLLUP_COUNTS, counts, strict=True))
                )
    return upserts, [row[2] for row in stored.values()]


@cache
def _stored_rollups_sql() -> str:
    """A scan's rollups of some accounts, with whether their clock is ``%s``
    (compared in SQL: cheaper than parsing every row's timestamp)."""
    return f"""
        SELECT account_id, control_id, id, at = %s, section, {", ".join(ROLLUP_COUNTS)}
        FROM {ControlRollup._meta.db_table}
        WHERE scan_id = %s AND account_id = ANY(%s)
    """  # noqa: S608


def _write_rollups(
    scan_id: int, at: datetime, upserts: list[dict], obsolete: list[int]
) -> None:
    """Upsert the rollup rows that changed and delete the obsolete ones, in
    one statement.

    The rows travel as one JSON parameter: quoting arrays of a few hundred
    values cost more than the statement itself.
    """
    if not (upserts or obsolete):
        return
    with connection.cursor() as cursor:
        cursor.execute(_rollup_sql(), [scan_id, at, json.dumps(upserts), obsolete])


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
        WITH upsert AS (
            INSERT INTO {table} AS old
                (scan_id, at, account_id, control_id, section, {counts})
            SELECT %s, %s, counted.* FROM jsonb_to_recordset(%s::jsonb)
                AS counted(
                    account_id bigint, control_id varchar, section varchar, {types}
                )
            ON CONFLICT (scan_id, account_id, control_id) DO UPDATE
            SET ({", ".join(fields)}) = ({new})
            WHERE ({stored}) IS DISTINCT FROM ({new})
        )
        DELETE FROM {table} WHERE id = ANY(%s::bigint[])
    """  # noqa: S608
