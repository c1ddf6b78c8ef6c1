"""Dashboard aggregates: pass rates, trends, coverage and changes.

Every count and rate here is read from the rollups, never from the findings
table: ControlRollup for figures per control or section, AccountRollup (its
sums per scan x account) for totals, trends and per-account figures. "Now"
is the latest finished (or partially finished) scan of an organization;
trends are one point per scan day (the day's last scan), over a window that
ends at "now". Every function takes the accounts the user may see
(``Account.objects.for_user``) so nothing here can widen a user's scope.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from hashlib import blake2b
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Max, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from accounts.aws_errors import ErrorKind
from accounts.models import Account, Organization, account_label
from collectors.models import GLOBAL_REGION, Scan, ScanUnit
from findings.controls import REGISTRY, Control
from findings.models import (
    AccountRollup,
    ControlRollup,
    ControlTotal,
    FindingChange,
    pass_rate,
)

#: Scans whose results count as "now" and as trend points.
DONE_STATUSES = (Scan.Status.FINISHED, Scan.Status.PARTIAL)
COUNT_FIELDS = ("passed", "failed", "errors", "unknown", "not_applicable", "suppressed")
# Prefixed: an annotation may not reuse a model field's name.
_SUMS = {f"n_{name}": Sum(name) for name in COUNT_FIELDS}
#: Trend windows a page offers, in days; the default is the middle one.
TREND_WINDOWS = (7, 30, 90, 365)
DEFAULT_TREND_DAYS = 30
#: Sparklines in tables show this many days.
SPARK_DAYS = 30
#: Accounts the overview lists, worst first; the accounts page lists them all.
OVERVIEW_ACCOUNTS = 10
#: Columns of the overview's heat-map at most: the lowest pass rates. More do
#: not fit a screen, and a thousand accounts made the page weigh 10 MB.
HEATMAP_COLUMNS = 24
#: How long a cached aggregate may sit unused. Staleness is not what bounds
#: it: a key names the rollup version, the scans and the accounts it is for.
#: A day, so the figures warmed after a nightly scan are there in the morning.
CACHE_SECONDS = 24 * 3600

T = TypeVar("T")


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

    def __reduce__(self):
        # Pickled in every cached figure: the default path for a frozen
        # dataclass with slots costs ~50 us per instance to load.
        return (Counts, tuple(getattr(self, name) for name in COUNT_FIELDS))

    @property
    def rate(self) -> float | None:
        """passed / everything that should pass; None if nothing applies."""
        return pass_rate(
            self.passed, self.failed, self.errors, self.unknown, self.suppressed
        )

    @property
    def evaluated(self) -> int:
        return self.passed + self.failed + self.errors + self.unknown + self.suppressed

    @property
    def not_passing(self) -> int:
        return self.failed + self.errors + self.unknown + self.suppressed


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


def current_scans(accounts: QuerySet) -> list[Scan]:
    """The latest done scan of every organization the accounts belong to."""
    return _latest_done_scans(organizations_for(accounts))


def _latest_done_scans(organizations: QuerySet | Iterable[int]) -> list[Scan]:
    return list(
        Scan.objects.filter(organization__in=organizations, status__in=DONE_STATUSES)
        .order_by("organization_id", "-started_at")
        .distinct("organization_id")
        .only("pk", "status", "started_at", "finished_at", "services")
    )


def current_scan_ids(accounts: QuerySet) -> list[int]:
    return [scan.pk for scan in current_scans(accounts)]


# -- Cache -----------------------------------------------------------------------
#
# A finished scan's rollups change only when they are rewritten: a re-run of
# its evaluation, or an exception recounting the current scan. A trigger bumps
# a version on every such write (migration 0007_rollup_version), so cached
# figures are keyed by (version, the scans, the accounts in scope, the view's
# options) and are never invalidated by hand.


def rollup_version() -> str:
    """Changes with every write to ControlRollup, when that write commits."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT epoch, version FROM findings_rollup_version")
        epoch, version = cursor.fetchone()
    return f"{epoch}.{version}"


def scope_fingerprint(accounts: QuerySet) -> str:
    """The accounts a user sees, and what pages show of them, as a short digest.

    Part of every cache key: two users share cached figures only when they
    see exactly the same accounts, and a renamed account shows at once.
    """
    rows = sorted((a.pk, a.name, a.account_id, a.ou_path) for a in accounts.listed())
    return blake2b(repr(rows).encode(), digest_size=16).hexdigest()


def _code_version() -> str:
    """This module, the control catalog and the templates, as a digest.

    Cached objects are pickled dataclasses holding control titles, and the
    overview caches rendered fragments: a deploy that changes any of them
    must not read a shared cache's old entries.
    """
    digest = blake2b(Path(__file__).read_bytes(), digest_size=8)
    catalog = sorted(
        (c.id, c.title, str(c.severity), c.section) for c in REGISTRY.values()
    )
    digest.update(repr(catalog).encode())
    for template in sorted((settings.BASE_DIR / "templates").rglob("*.html")):
        digest.update(template.read_bytes())
    return digest.hexdigest()


CODE_VERSION = _code_version()


def cache_key(name: str, *parts: Any) -> str:
    """A key for ``name``'s figures; ``parts`` are plain values (ints, strings)."""
    digest = blake2b(repr(parts).encode(), digest_size=16).hexdigest()
    return f"dashboard:{CODE_VERSION}:{name}:{digest}"


def cached(key: str, compute: Callable[[], T]) -> T:
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, CACHE_SECONDS)
    return value


def _scan_key(scan: Scan) -> tuple:
    """What of a scan decides its figures (a re-finished scan is new)."""
    return (scan.pk, scan.status, scan.finished_at)


# -- Trends ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrendPoint:
    at: datetime  # the day's last scan
    counts: Counts

    @property
    def rate(self) -> float | None:
        return self.counts.rate


def window_start(until: datetime, days: int) -> datetime:
    """The first instant of a window of ``days`` calendar days ending on ``until``.

    Windows end at the dashboard's "now" (the latest scan), not at the wall
    clock, so an organization that has not been scanned lately still shows
    the trend that led to the figures on the page.
    """
    first = until.date() - timedelta(days=days - 1)
    return datetime.combine(first, time.min, tzinfo=until.tzinfo)


def _daily_scans(since: datetime) -> QuerySet:
    """Ids of each organization's last done scan of every day since ``since``."""
    return (
        Scan.objects.filter(status__in=DONE_STATUSES, started_at__gte=since)
        .order_by("organization_id", "started_at__date", "-started_at")
        .distinct("organization_id", "started_at__date")
        .values("pk")
    )


def _by_day(rollups: QuerySet, since: datetime, *keys: str) -> QuerySet:
    """Summed counts per scan day (and ``keys``), one grouped query."""
    return (
        rollups.filter(scan_id__in=_daily_scans(since))
        .values(*keys, day=TruncDate("at"))
        .annotate(last=Max("at"), **_SUMS)
        .order_by()
    )


def trend(rollups: QuerySet, since: datetime) -> list[TrendPoint]:
    """One point per scan day since ``since`` (the day's last scan), oldest first."""
    rows = sorted(_by_day(rollups, since), key=lambda r: r["day"])
    return [TrendPoint(r["last"], Counts.from_row(r)) for r in rows]


def daily_rates(
    rollups: QuerySet, key: str, since: datetime
) -> dict[Any, list[float | None]]:
    """Per ``key`` value, its pass rate on each scan day since ``since``.

    Every list has one entry per day on which any value has results (None
    where this one has none), so sparklines in one table line up.
    """
    rows = list(_by_day(rollups, since, key))
    days = sorted({r["day"] for r in rows})
    position = {day: i for i, day in enumerate(days)}
    rates: dict[Any, list[float | None]] = {}
    for row in rows:
        values = rates.setdefault(row[key], [None] * len(days))
        values[position[row["day"]]] = Counts.from_row(row).rate
    return rates


# -- Coverage --------------------------------------------------------------------


UNFINISHED = "Not finished"


@dataclass
class CoverageGap:
    """An account, region or service not fully collected, and why."""

    name: str
    units: int
    reasons: list[tuple[str, int]]  # (reason, units), most units first
    account_pk: int | None = None  # for a link to the account page


@dataclass
class CoverageDimension:
    """Accounts, regions or services of a scan: fully collected or with gaps."""

    label: str
    total: int
    gaps: list[CoverageGap]
    # Only skipped units (a region not enabled): nothing there to collect.
    skipped: list[str] = field(default_factory=list)

    @property
    def complete(self) -> int:
        return self.total - len(self.gaps) - len(self.skipped)


@dataclass
class Coverage:
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    unfinished: int = 0
    failed_by_kind: list[tuple[str, int]] = field(default_factory=list)
    dimensions: list[CoverageDimension] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.ok + self.failed + self.skipped + self.unfinished

    @property
    def has_gaps(self) -> bool:
        return bool(self.failed or self.unfinished)


def _unit_counts(units: QuerySet, *keys: str) -> list[dict[str, Any]]:
    return list(
        units.values(*keys, "status", "error_kind").annotate(n=Count("pk")).order_by()
    )


def _gap_reason(row: dict[str, Any]) -> str | None:
    """Why a group of units left a gap; None when it did not (collected, skipped)."""
    if row["status"] == ScanUnit.Status.FAILED:
        kind = row["error_kind"] or ErrorKind.OTHER
        return dict(ErrorKind.choices).get(kind, kind)
    if row["status"] in (ScanUnit.Status.PENDING, ScanUnit.Status.RUNNING):
        return UNFINISHED
    return None


def _most_first(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _dimension(
    label: str,
    rows: list[dict[str, Any]],
    key: str,
    name: Callable[[dict[str, Any]], str] = lambda row: "",
) -> CoverageDimension:
    """Entities (``key``) of one kind; a gap is any unit not collected."""
    entities: set[Any] = set()
    attempted: set[Any] = set()
    names: dict[Any, str] = {}
    reasons: dict[Any, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        entities.add(row[key])
        names[row[key]] = name(row) or str(row[key])
        if row["status"] != ScanUnit.Status.SKIPPED:
            attempted.add(row[key])
        reason = _gap_reason(row)
        if reason:
            reasons[row[key]][reason] += row["n"]
    gaps = [
        CoverageGap(
            names[k],
            sum(by_reason.values()),
            _most_first(by_reason),
            k if key == "account_id" else None,
        )
        for k, by_reason in reasons.items()
    ]
    gaps.sort(key=lambda g: (-g.units, g.name))
    skipped = sorted(names[k] for k in entities - attempted)
    return CoverageDimension(label, len(entities), gaps, skipped)


def coverage(scan: Scan, accounts: QuerySet) -> Coverage:
    """Units of a scan by outcome, and which accounts, regions and services have
    gaps, with the reasons (access denied, region not enabled, throttled ...).

    Three small grouped queries; global services are not a region's gap.
    """
    units = ScanUnit.objects.filter(scan=scan, account__in=accounts)
    by_account = _unit_counts(
        units, "account_id", "account__name", "account__account_id"
    )
    result = Coverage()
    by_kind: dict[str, int] = defaultdict(int)
    for row in by_account:
        status, n = row["status"], row["n"]
        if status == ScanUnit.Status.OK:
            result.ok += n
        elif status == ScanUnit.Status.SKIPPED:
            result.skipped += n
        elif status == ScanUnit.Status.FAILED:
            result.failed += n
            by_kind[_gap_reason(row)] += n
        else:
            result.unfinished += n
    result.failed_by_kind = _most_first(by_kind)
    result.dimensions = [
        _dimension(
            "Accounts",
            by_account,
            "account_id",
            lambda row: row["account__name"] or row["account__account_id"],
        ),
        _dimension(
            "Regions",
            _unit_counts(units.exclude(region=GLOBAL_REGION), "region"),
            "region",
        ),
        _dimension("Services", _unit_counts(units, "service"), "service"),
    ]
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
    spark: list[float | None] = field(default_factory=list)

    @property
    def control(self) -> Control | None:
        return REGISTRY.get(self.control_id)

    @property
    def title(self) -> str:
        return self.control.title if self.control else self.control_id

    @property
    def rate(self) -> float | None:
        return self.counts.rate


def _worst_first(counts: Counts) -> tuple:
    rate = counts.rate
    return (rate is None, rate if rate is not None else 0, -counts.not_passing)


def control_rows(by_control: dict[str, Counts]) -> list[ControlRow]:
    rows = [ControlRow(cid, counts) for cid, counts in by_control.items()]
    return sorted(rows, key=lambda r: (*_worst_first(r.counts), r.control_id))


@dataclass
class AccountRow:
    account: Account
    counts: Counts
    spark: list[float | None] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        return self.counts.rate


def with_sparks(
    rows: list[AccountRow], until: datetime, control_id: str | None = None
) -> list[AccountRow]:
    """``rows`` with each account's daily pass rate over SPARK_DAYS to
    ``until``: over all its controls, or over ``control_id`` only."""
    pks = [row.account.pk for row in rows]
    return _set_sparks(rows, _spark_rates(pks, until, control_id))


def _spark_rates(
    pks: list[int], until: datetime, control_id: str | None
) -> dict[int, list[float | None]]:
    return daily_rates(
        ControlRollup.objects.filter(account__in=pks, control_id=control_id)
        if control_id
        else AccountRollup.objects.filter(account__in=pks),
        "account_id",
        window_start(until, SPARK_DAYS),
    )


def _set_sparks(
    rows: list[AccountRow], sparks: dict[int, list[float | None]]
) -> list[AccountRow]:
    for row in rows:
        row.spark = sparks.get(row.account.pk, [])
    return rows


def _worst_accounts_first(rows: list[AccountRow]) -> list[AccountRow]:
    return sorted(rows, key=lambda r: (*_worst_first(r.counts), str(r.account)))


def account_rows(
    by_account: dict[int, Counts], spark: dict[int, list[float | None]] | None = None
) -> list[AccountRow]:
    accounts = Account.objects.in_bulk(list(by_account))
    rows = [
        AccountRow(accounts[pk], counts, (spark or {}).get(pk, []))
        for pk, counts in by_account.items()
        if pk in accounts
    ]
    return _worst_accounts_first(rows)


# -- Heat-map -----------------------------------------------------------------------

NO_OU = "(no OU)"


@dataclass
class HeatColumn:
    """An account, or an OU with the accounts in it."""

    title: str
    account: Account | None = None  # None: an OU
    size: int = 1  # accounts in the column


@dataclass
class HeatRow:
    section: SectionRow
    # One per column, in column order; None: no results there.
    cells: list[tuple[HeatColumn, Counts | None]]


@dataclass
class Heatmap:
    by: str  # "account" or "ou"
    columns: list[HeatColumn]
    rows: list[HeatRow]
    hidden: int = 0  # columns left out: only the worst HEATMAP_COLUMNS are shown

    @property
    def total_columns(self) -> int:
        return len(self.columns) + self.hidden


def _heat_columns(
    accounts: Iterable[Account], by: str
) -> tuple[list[HeatColumn], dict[int, int]]:
    """The columns, and the column index of each account."""
    if by == "ou":
        by_ou: dict[str, list[Account]] = defaultdict(list)
        for account in accounts:
            by_ou[account.ou_path or NO_OU].append(account)
        paths = sorted(by_ou, key=lambda path: (path == NO_OU, path.lower()))
        columns = [HeatColumn(path, size=len(by_ou[path])) for path in paths]
        index = {a.pk: i for i, path in enumerate(paths) for a in by_ou[path]}
        return columns, index
    ordered = sorted(accounts, key=lambda a: ((a.name or a.account_id).lower(), a.pk))
    columns = [HeatColumn(a.name or a.account_id, a) for a in ordered]
    return columns, {a.pk: i for i, a in enumerate(ordered)}


def heatmap(
    by_section_account: dict[tuple[str, int], Counts],
    sections: list[SectionRow],
    accounts: Iterable[Account],
    by: str,
) -> Heatmap:
    """Sections (rows, tree order) x accounts or OUs (columns)."""
    columns, index = _heat_columns(accounts, by)
    cells: dict[str, list[Counts | None]] = {}
    for (section, account_id), counts in by_section_account.items():
        if account_id not in index:
            continue
        row = cells.setdefault(section, [None] * len(columns))
        i = index[account_id]
        row[i] = counts if row[i] is None else row[i] + counts
    shown = _worst_columns(columns, cells.values())
    rows = [
        HeatRow(s, [(columns[i], cells[s.slug][i]) for i in shown])
        for s in sections
        if s.slug in cells
    ]
    return Heatmap(by, [columns[i] for i in shown], rows, len(columns) - len(shown))


def _worst_columns(
    columns: list[HeatColumn], rows: Iterable[list[Counts | None]]
) -> list[int]:
    """Indexes of the columns to show, in column order: every one, or the
    HEATMAP_COLUMNS with the lowest pass rate over all their cells."""
    if len(columns) <= HEATMAP_COLUMNS:
        return list(range(len(columns)))
    totals = [Counts()] * len(columns)
    for cells in rows:
        for i, counts in enumerate(cells):
            if counts is not None:
                totals[i] = totals[i] + counts
    worst = sorted(
        (i for i, counts in enumerate(totals) if counts.evaluated),
        key=lambda i: (*_worst_first(totals[i]), i),
    )
    return sorted(worst[:HEATMAP_COLUMNS])


# -- Changes -----------------------------------------------------------------------


#: A change to PASS from one of these is a fix.
FIXED_FROM = ("FAIL", "ERROR")


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
    fixes = base.filter(new_status="PASS", old_status__in=FIXED_FROM).order_by(
        "finding__control_id", "pk"
    )
    counts = base.aggregate(
        failures=Count("pk", filter=Q(new_status="FAIL")),
        fixes=Count("pk", filter=Q(new_status="PASS", old_status__in=FIXED_FROM)),
        errors=Count("pk", filter=Q(new_status="ERROR")),
    )
    return Changes(
        new_failures=list(failures[:limit]),
        new_failure_count=counts["failures"],
        fixes=list(fixes[:limit]),
        fix_count=counts["fixes"],
        new_error_count=counts["errors"],
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
    heatmap: Heatmap | None = None
    worst_controls: list[ControlRow] = field(default_factory=list)
    accounts: list[AccountRow] = field(default_factory=list)  # the worst only
    account_count: int = 0  # accounts with results in the scan
    changes: Changes | None = None
    cache_key: str = ""  # of these figures; "" when there is no scan

    @property
    def unscored_sections(self) -> list[SectionRow]:
        """Customer sections with no results: controls not written or not run."""
        return [r for r in self.sections if not r.shown and r.kind != "index"]

    @property
    def previous(self) -> TrendPoint | None:
        """The trend's point before the latest scan's day, to compare with."""
        return self.trend[-2] if len(self.trend) > 1 else None

    @property
    def rate_change(self) -> float | None:
        """Percentage points since the previous scan day (None: nothing to compare)."""
        before = self.previous.rate if self.previous else None
        now = self.totals.rate
        return None if before is None or now is None else (now - before) * 100


def organization_trend(
    organization: Organization, accounts: QuerySet, scan: Scan, days: int
) -> list[TrendPoint]:
    """The organization's pass rate per scan day, ``days`` up to ``scan``."""
    accounts = accounts.filter(organization=organization)
    key = cache_key(
        "organization-trend",
        rollup_version(),
        _scan_key(scan),
        scope_fingerprint(accounts),
        days,
    )
    return cached(
        key,
        lambda: trend(
            AccountRollup.objects.filter(account__in=accounts),
            window_start(scan.started_at, days),
        ),
    )


def organization_summary(
    organization: Organization,
    accounts: QuerySet,
    *,
    days: int = DEFAULT_TREND_DAYS,
    by: str = "account",
    worst: int = 8,
) -> OrganizationSummary:
    """The overview of one organization, as far as ``accounts`` reach.

    Cached until a rollup is written or the accounts in scope change; its
    ``cache_key`` also keys the page's cached fragments.
    """
    accounts = accounts.filter(organization=organization)
    scan = latest_scan(organization)
    if scan is None:
        return OrganizationSummary(organization, scan)
    key = cache_key(
        "organization",
        rollup_version(),
        _scan_key(scan),
        scope_fingerprint(accounts),
        days,
        by,
        worst,
    )
    summary = cached(
        key,
        lambda: _organization_summary(organization, accounts, scan, days, by, worst),
    )
    return replace(summary, organization=organization, scan=scan, cache_key=key)


def account_table(
    organization: Organization, accounts: QuerySet, control_id: str | None = None
) -> list[tuple[int, Counts]]:
    """Every account of ``accounts`` in the organization as (pk, counts) as of
    its latest scan, worst first, as the overview orders them; a page turns
    the slice it shows into rows (``account_page``). With ``control_id``,
    that control's counts, and only the accounts it has results in.

    Otherwise accounts without results in that scan (none collected, access
    denied, new since) come last with empty counts, never as passing. Plain
    rows, no model instances: at a thousand accounts, building them cost
    more than the query.
    """
    accounts = accounts.filter(organization=organization)
    scan = latest_scan(organization)
    if scan is None:
        return _account_table(accounts, scan, control_id)
    key = cache_key(
        "account-table",
        rollup_version(),
        _scan_key(scan),
        scope_fingerprint(accounts),
        control_id,
    )
    return cached(key, lambda: _account_table(accounts, scan, control_id))


def _account_table(
    accounts: QuerySet, scan: Scan | None, control_id: str | None
) -> list[tuple[int, Counts]]:
    if scan is None:
        by_account = {}
    elif control_id:
        by_account = counts_by(
            ControlRollup.objects.filter(
                scan=scan, control_id=control_id, account__in=accounts
            ),
            "account_id",
        )
        accounts = accounts.filter(pk__in=list(by_account))
    else:
        by_account = counts_by(
            AccountRollup.objects.filter(scan=scan, account__in=accounts),
            "account_id",
        )
    rows = accounts.values_list("pk", "name", "account_id")
    ranked = sorted(
        (*_worst_first(by_account.get(pk, Counts())), account_label(name, number), pk)
        for pk, name, number in rows
    )
    return [(key[-1], by_account.get(key[-1], Counts())) for key in ranked]


def account_page(
    ranked: Iterable[tuple[int, Counts]],
    until: datetime | None,
    control_id: str | None = None,
) -> list[AccountRow]:
    """Rows with sparklines (to ``until``, the latest scan) for the given
    slice of ``account_table``."""
    ranked = list(ranked)
    accounts = Account.objects.in_bulk([pk for pk, _counts in ranked])
    rows = [AccountRow(accounts[pk], counts) for pk, counts in ranked if pk in accounts]
    if not until:
        return rows
    # An account's sparkline is the same whoever sees it: cached per page of
    # accounts until a rollup is written.
    pks = [row.account.pk for row in rows]
    key = cache_key("sparks", rollup_version(), until, control_id, pks)
    return _set_sparks(rows, cached(key, lambda: _spark_rates(pks, until, control_id)))


def warm(organization: Organization) -> int:
    """Compute the overview's figures of the organization's latest scan for
    each set of its accounts that active users see, so that the first reader
    after a scan does not wait for them (at a thousand accounts, seconds).
    The number of sets computed."""
    from django.contrib.auth import get_user_model

    nobody = scope_fingerprint(Account.objects.none())
    done = {nobody}
    for user in get_user_model().objects.filter(is_active=True).iterator():
        accounts = Account.objects.for_user(user).filter(organization=organization)
        fingerprint = scope_fingerprint(accounts)
        if fingerprint not in done:
            done.add(fingerprint)
            organization_summary(organization, accounts)
    return len(done) - 1


def _organization_summary(
    organization: Organization,
    accounts: QuerySet,
    scan: Scan,
    days: int,
    by: str,
    worst: int,
) -> OrganizationSummary:
    summary = OrganizationSummary(organization, scan)
    now = ControlRollup.objects.filter(account__in=accounts, scan=scan)
    totals = AccountRollup.objects.filter(account__in=accounts)
    totals_now = totals.filter(scan=scan)
    summary.totals = sum_counts(totals_now)
    summary.trend = trend(totals, window_start(scan.started_at, days))
    summary.coverage = coverage(scan, accounts)
    by_section_account = counts_by(now, "section", "account_id")
    by_section: dict[str, Counts] = defaultdict(Counts)
    for (section, _account), counts in by_section_account.items():
        by_section[section] += counts
    summary.sections = section_rows(by_section)
    summary.worst_controls = [
        row
        for row in control_rows(
            counts_by(per_control(accounts).filter(scan=scan), "control_id")
        )
        if row.counts.not_passing
    ][:worst]
    rows = account_rows(counts_by(totals_now, "account_id"))
    summary.account_count = len(rows)
    summary.accounts = with_sparks(rows[:OVERVIEW_ACCOUNTS], scan.started_at)
    summary.heatmap = heatmap(
        by_section_account,
        [row for row in summary.sections if row.counts],
        [row.account for row in rows],
        by,
    )
    summary.changes = changes(scan, accounts)
    return summary


def control_summary(
    control_ids: Iterable[str], accounts: QuerySet
) -> dict[str, Counts]:
    """Current counts per control over every organization's latest scan."""
    return _control_counts(
        per_control(accounts), control_ids, current_scan_ids(accounts)
    )


def per_control(accounts: QuerySet) -> QuerySet:
    """Per-control counts over ``accounts``, a row per scan and control to
    narrow and sum: the organizations' totals (ControlTotal) when ``accounts``
    holds every account of the organizations it reaches, as for most users;
    otherwise those accounts' rollups, a row per account as well."""
    organizations = accounts.values("organization_id")
    others = Account.objects.filter(organization__in=organizations).exclude(
        pk__in=accounts.values("pk")
    )
    if others.exists():
        return ControlRollup.objects.filter(account__in=accounts)
    return ControlTotal.objects.filter(scan__organization__in=organizations)


def _control_counts(
    rows: QuerySet, control_ids: Iterable[str], scan_ids: list[int]
) -> dict[str, Counts]:
    """Per control of ``control_ids``, the ``per_control`` ``rows`` of the
    scans ``scan_ids`` summed."""
    return counts_by(
        rows.filter(scan_id__in=scan_ids, control_id__in=list(control_ids)),
        "control_id",
    )


def current_control_counts(accounts: QuerySet) -> dict[str, Counts]:
    """Every control's counts over the current scans; cached. What the
    frameworks pages sum per requirement and controls.csv lists."""
    return _cached_current(
        "control-counts",
        accounts,
        lambda scans: _control_counts(
            per_control(accounts), REGISTRY, [s.pk for s in scans]
        ),
    )


def _section_counts(rows: QuerySet, scan_ids: list[int]) -> dict[str, Counts]:
    """Per section, the ``per_control`` ``rows`` of the scans ``scan_ids``."""
    return counts_by(rows.filter(scan_id__in=scan_ids), "section")


def _control_sparks(
    rows: QuerySet, control_ids: Iterable[str], until: datetime
) -> dict[str, list[float | None]]:
    """Per control, its pass rate on each scan day up to ``until`` from the
    ``per_control`` ``rows``: one query."""
    return daily_rates(
        rows.filter(control_id__in=list(control_ids)),
        "control_id",
        window_start(until, SPARK_DAYS),
    )


@dataclass
class ControlHistory:
    """A control's pass rate over time, overall and per account."""

    trend: list[TrendPoint]
    accounts: list[AccountRow]  # the worst OVERVIEW_ACCOUNTS, with sparklines
    totals: Counts = field(default_factory=Counts)  # over every account
    account_count: int = 0  # accounts with results for the control
    out_of_scope: bool = False  # no current scan covers the control's service


@dataclass
class SectionFigures:
    """The section page's figures over the current scans."""

    counts: dict[str, Counts]  # per control of the section
    sparks: dict[str, list[float | None]]  # per control
    section_counts: dict[str, Counts]  # per section of the whole tree
    out_of_scope: set[str]


def _cached_current(
    name: str,
    accounts: QuerySet,
    compute: Callable[[list[Scan]], T],
    *parts: Any,
) -> T:
    """``compute(current scans)``, cached for those scans and this scope.

    The scans' organizations come from the rows the key reads anyway
    (``accounts.listed()``, shared with the page's selects).
    """
    scans = _latest_done_scans({a.organization_id for a in accounts.listed()})
    key = cache_key(
        name,
        rollup_version(),
        [_scan_key(scan) for scan in scans],
        scope_fingerprint(accounts),
        *parts,
    )
    return cached(key, lambda: compute(scans))


def section_figures(control_ids: list[str], accounts: QuerySet) -> SectionFigures:
    """Counts and sparklines of ``control_ids``, and the tree's counts; cached."""

    def compute(scans: list[Scan]) -> SectionFigures:
        ids = [scan.pk for scan in scans]
        rows = per_control(accounts)  # one look at the scope for the three
        return SectionFigures(
            _control_counts(rows, control_ids, ids),
            _control_sparks(rows, control_ids, max(s.started_at for s in scans))
            if scans and control_ids
            else {},
            _section_counts(rows, ids),
            _out_of_scope(scans),
        )

    return _cached_current("section", accounts, compute, sorted(control_ids))


def control_history(control_id: str, accounts: QuerySet, days: int) -> ControlHistory:
    """The control page's figures: trend over ``days`` and each account's rate."""
    return _cached_current(
        "control",
        accounts,
        lambda scans: _control_history(control_id, accounts, days, scans),
        control_id,
        days,
    )


def _control_history(
    control_id: str, accounts: QuerySet, days: int, scans: list[Scan]
) -> ControlHistory:
    if not scans:
        return ControlHistory([], [])
    until = max(scan.started_at for scan in scans)
    rollups = ControlRollup.objects.filter(account__in=accounts, control_id=control_id)
    now = rollups.filter(scan_id__in=[scan.pk for scan in scans])
    rows = account_rows(counts_by(now, "account_id"))
    return ControlHistory(
        trend(
            per_control(accounts).filter(control_id=control_id),
            window_start(until, days),
        ),
        with_sparks(rows[:OVERVIEW_ACCOUNTS], until, control_id),
        sum((row.counts for row in rows), Counts()),
        len(rows),
        control_id in _out_of_scope(scans),
    )


@dataclass
class AccountSummary:
    account: Account
    scan: Scan | None
    totals: Counts = field(default_factory=Counts)
    trend: list[TrendPoint] = field(default_factory=list)
    sections: list[SectionRow] = field(default_factory=list)
    failed_units: list[ScanUnit] = field(default_factory=list)
    # Regions skipped because they are not enabled in the account.
    skipped_regions: list[str] = field(default_factory=list)


def account_trend(account: Account, scan: Scan, days: int) -> list[TrendPoint]:
    """The account's pass rate per scan day, ``days`` up to ``scan``."""
    return cached(
        cache_key("account-trend", rollup_version(), _scan_key(scan), account.pk, days),
        lambda: _account_trend(account, scan, days),
    )


def _account_trend(account: Account, scan: Scan, days: int) -> list[TrendPoint]:
    return trend(
        AccountRollup.objects.filter(account=account),
        window_start(scan.started_at, days),
    )


def account_summary(account: Account, days: int = DEFAULT_TREND_DAYS) -> AccountSummary:
    """The account page; the caller has already checked the user may see it.

    Cached until a rollup is written; only the account's own figures, so
    the key needs no user's scope.
    """
    scan = latest_scan(account.organization)
    if scan is None:
        return AccountSummary(account, scan)
    key = cache_key("account", rollup_version(), _scan_key(scan), account.pk, days)
    summary = cached(key, lambda: _account_summary(account, scan, days))
    return replace(summary, account=account, scan=scan)


def _account_summary(account: Account, scan: Scan, days: int) -> AccountSummary:
    summary = AccountSummary(account, scan)
    summary.totals = sum_counts(
        AccountRollup.objects.filter(account=account, scan=scan)
    )
    summary.trend = _account_trend(account, scan, days)
    now = ControlRollup.objects.filter(account=account, scan=scan)
    by_section = counts_by(now, "section")
    summary.sections = [row for row in section_rows(by_section) if row.counts]
    units = ScanUnit.objects.filter(scan=scan, account=account)
    summary.failed_units = list(
        units.filter(status=ScanUnit.Status.FAILED).order_by("service", "region")
    )
    summary.skipped_regions = list(
        units.filter(status=ScanUnit.Status.SKIPPED)
        .order_by("region")
        .values_list("region", flat=True)
        .distinct()
    )
    return summary


def out_of_scope_control_ids(accounts: QuerySet) -> set[str]:
    """Controls whose service no current scan covered: out of scope, not passing."""
    return _out_of_scope(current_scans(accounts))


def _out_of_scope(scans: list[Scan]) -> set[str]:
    from collectors.base import service_for_type

    in_scope: set[str] = set()
    for scan in scans:
        in_scope.update(scan.services)
    if not in_scope:
        return set()
    return {
        c.id
        for c in REGISTRY.values()
        if service_for_type(c.resource_type) not in in_scope
    }
