"""Dashboard aggregates: pass rates, trends, coverage and changes.

Every count and rate here is read from ControlRollup, never from the findings
table. "Now" is the latest finished (or partially finished) scan of an
organization; trends are one point per such scan. Every function takes the
accounts the user may see (``Account.objects.for_user``) so nothing here can
widen a user's scope.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, QuerySet, Sum

from accounts.models import Account, Organization
from collectors.models import ErrorKind, Scan, ScanUnit, Snapshot
from findings.controls import REGISTRY, Control
from findings.models import ControlRollup, FindingChange, pass_rate

#: Scans whose results count as "now" and as trend points.
DONE_STATUSES = (Scan.Status.FINISHED, Scan.Status.PARTIAL)
COUNT_FIELDS = ("passed", "failed", "errors", "unknown", "not_applicable", "suppressed")
# Prefixed: an annotation may not reuse a model field's name.
_SUMS = {f"n_{name}": Sum(name) for name in COUNT_FIELDS}
TREND_SCANS = 30
SPARK_SCANS = 10


@dataclass(frozen=True, slots=True)
class Counts:
    passed: int = 0
    failed: int = 0
    errors: int = 0
    unknown: int = 0
    not_applicable: int = 0
    suppressed: int = 0

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Counts":
        return cls(**{name: row.get(f"n_{name}") or 0 for name in COUNT_FIELDS})

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(
            *(getattr(self, name) + getattr(other, name) for name in COUNT_FIELDS)
        )

    @property
    def rate(self) -> float | None:
        """passed / (passed + failed + errors + unknown); None if nothing applies."""
        return pass_rate(self.passed, self.failed, self.errors, self.unknown)

    @property
    def evaluated(self) -> int:
        return self.passed + self.failed + self.errors + self.unknown

    @property
    def not_passing(self) -> int:
        return self.failed + self.errors + self.unknown


def sum_counts(rollups: QuerySet) -> Counts:
    return Counts.from_row(rollups.aggregate(**_SUMS))


def counts_by(rollups: QuerySet, *keys: str) -> dict[Any, Counts]:
    """Summed counts grouped by one key (a value) or several (a tuple)."""
    rows = rollups.values(*keys).annotate(**_SUMS).order_by()
    if len(keys) == 1:
        return {row[keys[0]]: Counts.from_row(row) for row in rows}
    return {tuple(row[k] for k in keys): Counts.from_row(row) for row in rows}


# -- Scope and "now" -----------------------------------------------------------


def organizations_for(accounts: QuerySet) -> QuerySet:
    """Organizations with at least one account in ``accounts``."""
    return Organization.objects.filter(pk__in=accounts.values("organization_id"))


def latest_scan(organization: Organization) -> Scan | None:
    return (
        Scan.objects.filter(organization=organization, status__in=DONE_STATUSES)
        .order_by("-started_at")
        .first()
    )


def current_scan_ids(accounts: QuerySet) -> list[int]:
    """The latest done scan of every organization the accounts belong to."""
    return list(
        Scan.objects.filter(
            organization__in=organizations_for(accounts), status__in=DONE_STATUSES
        )
        .order_by("organization_id", "-started_at")
        .distinct("organization_id")
        .values_list("pk", flat=True)
    )


def _recent_scan_ids(organization: Organization, limit: int) -> list[int]:
    return list(
        Scan.objects.filter(organization=organization, status__in=DONE_STATUSES)
        .order_by("-started_at")
        .values_list("pk", flat=True)[:limit]
    )


# -- Trends ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrendPoint:
    scan_id: int
    at: datetime
    counts: Counts

    @property
    def rate(self) -> float | None:
        return self.counts.rate


def trend(rollups: QuerySet, limit: int = TREND_SCANS) -> list[TrendPoint]:
    """One point per done scan, oldest first, over the given rollups."""
    rows = (
        rollups.filter(scan__status__in=DONE_STATUSES)
        .values("scan_id", "at")
        .annotate(**_SUMS)
        .order_by("-at")[:limit]
    )
    points = [TrendPoint(r["scan_id"], r["at"], Counts.from_row(r)) for r in rows]
    return points[::-1]


# -- Coverage --------------------------------------------------------------------


@dataclass
class Coverage:
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    unfinished: int = 0
    failed_by_kind: list[tuple[str, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.ok + self.failed + self.skipped + self.unfinished


def coverage(scan: Scan, accounts: QuerySet) -> Coverage:
    """Units of a scan by outcome, failures broken down by error kind."""
    result = Coverage()
    by_kind: dict[str, int] = defaultdict(int)
    rows = (
        ScanUnit.objects.filter(scan=scan, account__in=accounts)
        .values("status", "error_kind")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in rows:
        status, n = row["status"], row["n"]
        if status == ScanUnit.Status.OK:
            result.ok += n
        elif status == ScanUnit.Status.FAILED:
            result.failed += n
            by_kind[row["error_kind"] or ErrorKind.OTHER] += n
        elif status == ScanUnit.Status.SKIPPED:
            result.skipped += n
        else:
            result.unfinished += n
    labels = dict(ErrorKind.choices)
    result.failed_by_kind = sorted(
        ((labels.get(kind, kind), n) for kind, n in by_kind.items()),
        key=lambda item: -item[1],
    )
    return result


# -- Rows for tables ---------------------------------------------------------------


@dataclass
class SectionRow:
    slug: str
    title: str
    kind: str
    depth: int
    counts: Counts | None  # the section's own controls; None: no results
    subtree: Counts | None = None  # the section and everything below it
    known: bool = True  # False: a rollup names a section missing from the tree
    shown: bool = True  # on the overview; unscored customer sections are listed apart

    @property
    def informational(self) -> bool:
        return self.kind == "informational"

    @property
    def is_group(self) -> bool:
        return self.kind == "index" and self.counts is None

    @property
    def rate(self) -> float | None:
        return self.counts.rate if self.counts else None

    @property
    def subtree_rate(self) -> float | None:
        return self.subtree.rate if self.subtree else None


def section_rows(by_section: dict[str, Counts]) -> list[SectionRow]:
    """The whitepaper tree in order, each section with its own and subtree counts.

    A customer section without results is marked ``shown=False`` (the overview
    lists those apart); a grouping is shown when anything below it is.
    """
    from findings import sections

    rows = [
        SectionRow(s.slug, s.title, s.kind, s.depth, by_section.get(s.slug))
        for s in sections.SECTIONS
    ]
    for row in rows:
        prefix = row.slug + "/"
        below = [
            c
            for slug, c in by_section.items()
            if slug == row.slug or slug.startswith(prefix)
        ]
        row.subtree = sum(below, Counts()) if below else None
        if row.kind in ("checkable", "split"):
            row.shown = row.counts is not None
    for row in rows:
        if row.kind == "index":
            prefix = row.slug + "/"
            row.shown = any(
                other.shown and other.kind != "index"
                for other in rows
                if other.slug.startswith(prefix)
            )
    known = {row.slug for row in rows}
    # Rollups of a section the tree no longer has are shown, not dropped.
    rows += [
        SectionRow(slug, slug, "checkable", 0, counts, counts, known=False)
        for slug, counts in sorted(by_section.items())
        if slug not in known
    ]
    return rows


@dataclass
class ControlRow:
    control_id: str
    counts: Counts

    @property
    def control(self) -> Control | None:
        return REGISTRY.get(self.control_id)

    @property
    def title(self) -> str:
        return self.control.title if self.control else self.control_id

    @property
    def rate(self) -> float | None:
        return self.counts.rate


def _worst_first(row: Any) -> tuple:
    rate = row.rate
    return (rate is None, rate if rate is not None else 0, -row.counts.not_passing)


def control_rows(by_control: dict[str, Counts]) -> list[ControlRow]:
    rows = [ControlRow(cid, counts) for cid, counts in by_control.items()]
    return sorted(rows, key=lambda r: (*_worst_first(r), r.control_id))


@dataclass
class AccountRow:
    account: Account
    counts: Counts
    spark: list[float | None] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        return self.counts.rate


def account_rows(
    by_account: dict[int, Counts], spark: dict[int, list[float | None]] | None = None
) -> list[AccountRow]:
    accounts = Account.objects.in_bulk(list(by_account))
    rows = [
        AccountRow(accounts[pk], counts, (spark or {}).get(pk, []))
        for pk, counts in by_account.items()
        if pk in accounts
    ]
    return sorted(rows, key=lambda r: (*_worst_first(r), str(r.account)))


def _account_sparks(
    organization: Organization, accounts: QuerySet
) -> dict[int, list[float | None]]:
    """Per account, the pass rate of each of the organization's recent scans."""
    scan_ids = _recent_scan_ids(organization, SPARK_SCANS)[::-1]
    grouped = counts_by(
        ControlRollup.objects.filter(scan_id__in=scan_ids, account__in=accounts),
        "account_id",
        "scan_id",
    )
    sparks: dict[int, list[float | None]] = {}
    for account_id in {key[0] for key in grouped}:
        sparks[account_id] = [
            grouped[(account_id, sid)].rate if (account_id, sid) in grouped else None
            for sid in scan_ids
        ]
    return sparks


# -- Changes -----------------------------------------------------------------------


@dataclass
class Changes:
    new_failures: list[FindingChange]
    new_failure_count: int
    fixes: list[FindingChange]
    fix_count: int
    new_error_count: int


def changes(scan: Scan, accounts: QuerySet, limit: int = 10) -> Changes:
    """What the scan changed: findings that started failing, and fixes."""
    base = FindingChange.objects.filter(
        scan=scan, finding__account__in=accounts
    ).select_related("finding__resource", "finding__account")
    failures = base.filter(new_status="FAIL").order_by("finding__control_id", "pk")
    fixes = base.filter(new_status="PASS", old_status__in=["FAIL", "ERROR"]).order_by(
        "finding__control_id", "pk"
    )
    return Changes(
        new_failures=list(failures[:limit]),
        new_failure_count=failures.count(),
        fixes=list(fixes[:limit]),
        fix_count=fixes.count(),
        new_error_count=base.filter(new_status="ERROR").count(),
    )


# -- Pages -------------------------------------------------------------------------


@dataclass
class OrganizationSummary:
    organization: Organization
    scan: Scan | None
    totals: Counts = field(default_factory=Counts)
    trend: list[TrendPoint] = field(default_factory=list)
    coverage: Coverage | None = None
    sections: list[SectionRow] = field(default_factory=list)
    worst_controls: list[ControlRow] = field(default_factory=list)
    accounts: list[AccountRow] = field(default_factory=list)
    changes: Changes | None = None

    @property
    def unscored_sections(self) -> list[SectionRow]:
        """Customer sections with no results: controls not written or not run."""
        return [r for r in self.sections if not r.shown and r.kind != "index"]


def organization_summary(
    organization: Organization, accounts: QuerySet, worst: int = 8
) -> OrganizationSummary:
    """The overview of one organization, as far as ``accounts`` reach."""
    accounts = accounts.filter(organization=organization)
    scan = latest_scan(organization)
    summary = OrganizationSummary(organization, scan)
    if scan is None:
        return summary
    rollups = ControlRollup.objects.filter(account__in=accounts)
    now = rollups.filter(scan=scan)
    summary.totals = sum_counts(now)
    summary.trend = trend(rollups.filter(scan__organization=organization))
    summary.coverage = coverage(scan, accounts)
    summary.sections = section_rows(counts_by(now, "section"))
    summary.worst_controls = [
        row
        for row in control_rows(counts_by(now, "control_id"))
        if row.counts.not_passing
    ][:worst]
    summary.accounts = account_rows(
        counts_by(now, "account_id"), _account_sparks(organization, accounts)
    )
    summary.changes = changes(scan, accounts)
    return summary


def control_summary(
    control_ids: Iterable[str], accounts: QuerySet
) -> dict[str, Counts]:
    """Current counts per control over every organization's latest scan."""
    return counts_by(
        ControlRollup.objects.filter(
            scan_id__in=current_scan_ids(accounts),
            account__in=accounts,
            control_id__in=list(control_ids),
        ),
        "control_id",
    )


def current_section_counts(accounts: QuerySet) -> dict[str, Counts]:
    """Current counts per section over every organization's latest scan."""
    return counts_by(
        ControlRollup.objects.filter(
            scan_id__in=current_scan_ids(accounts), account__in=accounts
        ),
        "section",
    )


def control_accounts(control_id: str, accounts: QuerySet) -> list[AccountRow]:
    """Current counts of one control per account."""
    return account_rows(
        counts_by(
            ControlRollup.objects.filter(
                scan_id__in=current_scan_ids(accounts),
                account__in=accounts,
                control_id=control_id,
            ),
            "account_id",
        )
    )


@dataclass
class AccountSummary:
    account: Account
    scan: Scan | None
    totals: Counts = field(default_factory=Counts)
    trend: list[TrendPoint] = field(default_factory=list)
    sections: list[SectionRow] = field(default_factory=list)
    failed_units: list[ScanUnit] = field(default_factory=list)
    coverage: Coverage | None = None


def account_summary(account: Account) -> AccountSummary:
    """The account page; the caller has already checked the user may see it."""
    scan = latest_scan(account.organization)
    summary = AccountSummary(account, scan)
    if scan is None:
        return summary
    rollups = ControlRollup.objects.filter(account=account)
    now = rollups.filter(scan=scan)
    summary.totals = sum_counts(now)
    summary.trend = trend(rollups)
    by_section = counts_by(now, "section")
    summary.sections = [row for row in section_rows(by_section) if row.counts]
    one = Account.objects.filter(pk=account.pk)
    summary.coverage = coverage(scan, one)
    summary.failed_units = list(
        ScanUnit.objects.filter(
            scan=scan, account=account, status=ScanUnit.Status.FAILED
        ).order_by("service", "region")
    )
    return summary


# -- Snapshot history ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigChange:
    path: str
    old: Any
    new: Any

    @property
    def kind(self) -> str:
        if self.old is _MISSING:
            return "added"
        if self.new is _MISSING:
            return "removed"
        return "changed"


class _Missing:
    def __repr__(self) -> str:
        return "—"


_MISSING: Any = _Missing()


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted paths; lists and scalars are leaves."""
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, inner in value.items():
            flat.update(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix or "(root)": value}


def config_diff(old: Any, new: Any, limit: int = 50) -> list[ConfigChange]:
    """Changed leaf paths between two canonical configurations."""
    before, after = _flatten(old or {}), _flatten(new or {})
    paths = sorted(set(before) | set(after))
    diff = [
        ConfigChange(p, before.get(p, _MISSING), after.get(p, _MISSING))
        for p in paths
        if before.get(p, _MISSING) != after.get(p, _MISSING)
    ]
    # An empty dict that gained (or lost) keys shows as those keys only.
    parents = {c.path.rpartition(".")[0] for c in diff}
    diff = [
        c
        for c in diff
        if not (c.path in parents and {} in (c.old, c.new) and c.kind != "changed")
    ]
    return diff[:limit]


@dataclass
class TimelineEntry:
    snapshot: Snapshot
    diff: list[ConfigChange]
    is_first: bool  # the resource's first snapshot: nothing to compare with


def _diffable(snapshot: Snapshot) -> dict[str, Any]:
    return {"config": snapshot.config, "tags": snapshot.tags}


def timeline(snapshots: QuerySet, limit: int = 50) -> list[TimelineEntry]:
    """A resource's newest snapshots, each with its difference from the previous."""
    newest = list(snapshots.order_by("-valid_from")[: limit + 1])
    entries = []
    for i, snap in enumerate(newest[:limit]):
        previous = newest[i + 1] if i + 1 < len(newest) else None
        diff = config_diff(_diffable(previous), _diffable(snap)) if previous else []
        entries.append(TimelineEntry(snap, diff, is_first=previous is None))
    return entries


def out_of_scope_control_ids(accounts: QuerySet) -> set[str]:
    """Controls whose service no current scan covered: out of scope, not passing."""
    from collectors.base import service_for_type

    in_scope: set[str] = set()
    scans = Scan.objects.filter(pk__in=current_scan_ids(accounts))
    for services in scans.values_list("services", flat=True):
        in_scope.update(services)
    if not in_scope:
        return set()
    return {
        c.id
        for c in REGISTRY.values()
        if service_for_type(c.resource_type) not in in_scope
    }
