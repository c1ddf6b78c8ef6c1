"""CSV tables of what was collected and when: scans, units, a resource's history."""

import heapq
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.db.models import Case, QuerySet, Value, When

from collectors.models import Scan, ScanUnit, Snapshot
from findings import history
from findings.controls import REGISTRY
from findings.exports import CHUNK_ROWS
from findings.models import FindingChange

# -- Scans and units ---------------------------------------------------------------

SCAN_COLUMNS = [
    "scan_id",
    "organization",
    "status",
    "trigger",
    "started_at",
    "finished_at",
    "duration_seconds",
    "units_total",
    "units_collected",
    "units_failed",
    "units_skipped",
]


def scan_rows(scans: Iterable[Scan]) -> Iterator[list]:
    """The scan history in the order given, with the scan list's unit counts
    (``units_total``, ``units_ok`` ...: ``collectors.views.counted_scans``)."""
    for scan in scans:
        yield [
            scan.pk,
            scan.organization.name,
            scan.status,
            scan.trigger,
            scan.started_at,
            scan.finished_at,
            _seconds(scan.started_at, scan.finished_at),
            scan.units_total,
            scan.units_ok,
            scan.units_failed,
            scan.units_skipped,
        ]


UNIT_COLUMNS = [
    "scan_id",
    "organization",
    "account_id",
    "account_name",
    "region",
    "service",
    "status",
    "error_kind",
    "error_message",
    "started_at",
    "finished_at",
    "duration_seconds",
    "attempts",
    "api_calls",
    "resources",
    "snapshots_written",
]


def unit_list(units: QuerySet, form) -> QuerySet:
    """A scan's units as its page lists them: filtered by ``form``, failed first.

    ``form`` is the scan page's ``UnitFilterForm``.
    """
    failed_first = Case(
        When(status=ScanUnit.Status.FAILED, then=Value(0)), default=Value(1)
    )
    return form.filter(units).order_by(
        failed_first, "account__name", "account__account_id", "service", "region", "pk"
    )


def unit_rows(units: QuerySet) -> Iterator[list]:
    values = units.values_list(
        "scan_id",
        "scan__organization__name",
        "account__account_id",
        "account__name",
        "region",
        "service",
        "status",
        "error_kind",
        "error_message",
        "started_at",
        "finished_at",
        "attempts",
        "api_calls",
        "resources",
        "snapshots_written",
    )
    for *head, started, finished, attempts, calls, found, written in values.iterator(
        chunk_size=CHUNK_ROWS
    ):
        duration = _seconds(started, finished)
        yield [*head, started, finished, duration, attempts, calls, found, written]


def _seconds(started: datetime | None, finished: datetime | None) -> float | None:
    if started is None or finished is None:
        return None
    return round((finished - started).total_seconds(), 3)


# -- A resource's history ----------------------------------------------------------

HISTORY_COLUMNS = [
    "at",
    "event",
    "account_id",
    "region",
    "resource_type",
    "resource_id",
    "scan_id",
    "snapshot_sha256",
    "valid_to",
    "config_changes",
    "control_id",
    "control_title",
    "old_status",
    "new_status",
    "reason",
]
_MAX_DIFF_PATHS = 1000
# Spreadsheets hold 32,767 characters in a cell; a policy document can be more.
_MAX_CELL_CHARS = 30_000
_MAX_VALUE_CHARS = 300


def history_rows(resource) -> Iterator[list]:
    """A resource's snapshots and finding status changes, newest first.

    A ``snapshot`` row lists what changed since the previous snapshot, as on
    the page (``changed config.Versioning.Status: "Suspended" → "Enabled";
    added tags.team: "payments"``, long values cut short);
    a ``status_change`` row names the snapshot that caused it. At the same
    instant the change is listed above the snapshot that caused it.
    """
    identity = [
        resource.account.account_id,
        resource.region,
        resource.resource_type,
        resource.resource_id,
    ]
    events = heapq.merge(
        _snapshot_events(resource, identity),
        _change_events(resource, identity),
        key=lambda event: event[0],
        reverse=True,
    )
    for _key, row in events:
        yield row


def _changes_text(diff: list[history.ConfigChange]) -> str:
    parts: list[str] = []
    size = 0
    for i, change in enumerate(diff):
        text = _change_text(change)
        size += len(text) + 2
        if size > _MAX_CELL_CHARS:
            parts.append(f"… {len(diff) - i} more")
            break
        parts.append(text)
    return "; ".join(parts)


def _change_text(change: history.ConfigChange) -> str:
    """``changed config.Versioning.Status: "Suspended" → "Enabled"``."""
    if change.kind == "added":
        return f"added {change.path}: {_value_text(change.new)}"
    if change.kind == "removed":
        return f"removed {change.path}: {_value_text(change.old)}"
    old, new = _value_text(change.old), _value_text(change.new)
    return f"changed {change.path}: {old} → {new}"


def _value_text(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    if len(text) > _MAX_VALUE_CHARS:
        return text[: _MAX_VALUE_CHARS - 1] + "…"
    return text


def _snapshot_events(resource, identity: list) -> Iterator[tuple[tuple, list]]:
    snapshots = (
        Snapshot.objects.filter(resource=resource)
        .order_by("-valid_from", "-pk")
        .iterator(chunk_size=200)
    )
    current = next(snapshots, None)
    while current is not None:
        older = next(snapshots, None)  # one lookahead: the diff's "before"
        if older is None:
            changes = "first collected"
        else:
            # The same paths as the resource page's timeline.
            diff = history.config_diff(
                history.diffable(older),
                history.diffable(current),
                limit=_MAX_DIFF_PATHS,
            )
            changes = _changes_text(diff)
        row = [
            current.valid_from,
            "snapshot",
            *identity,
            current.scan_id,
            current.sha256,
            current.valid_to,
            changes,
            "",
            "",
            "",
            "",
            "",
        ]
        yield (current.valid_from, 0), row
        current = older


def _change_events(resource, identity: list) -> Iterator[tuple[tuple, list]]:
    changes = (
        FindingChange.objects.filter(finding__resource=resource)
        .order_by("-at", "-pk")
        .values_list(
            "at",
            "scan_id",
            "snapshot__sha256",
            "finding__control_id",
            "old_status",
            "new_status",
            "reason",
        )
    )
    for at, scan_id, sha256, control_id, old, new, reason in changes.iterator(
        chunk_size=CHUNK_ROWS
    ):
        control = REGISTRY.get(control_id)
        row = [
            at,
            "status_change",
            *identity,
            scan_id,
            sha256,
            None,
            "",
            control_id,
            control.title if control else "",
            old,
            new,
            reason,
        ]
        yield (at, 1), row
