"""What a digest says, computed for one subscription and one period.

A period is ``(start, end]`` by the time scans *finished*: the state "at" a
moment is each organization's latest done scan that had finished by then, so
a scan still running when one digest goes out is reported by the next one,
never by neither. Pass rates come from rollups (``findings.dashboard``); the
lists of new failures and fixes come from the findings' recorded changes in
that window, net per finding (a finding that failed and was fixed within the
period is in neither list).

Every query starts from ``scope_accounts``, which is bounded by
``Account.objects.for_user``: a digest never shows more than its user's pages.
"""

from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.db.models import (
    Count,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Window,
)
from django.db.models.functions import RowNumber
from django.urls import reverse

from accounts.aws_errors import ErrorKind
from accounts.models import Account, Organization, Team
from collectors.models import Scan, ScanUnit
from findings import dashboard
from findings.controls import REGISTRY
from findings.controls.base import Severity
from findings.dashboard import Counts
from findings.digest_blocks import (
    ControlGroup,
    DigestContent,
    Example,
    Expiring,
    FindingList,
    Gap,
    OrganizationState,
    RateChange,
)
from findings.models import (
    ControlRollup,
    DigestSubscription,
    Finding,
    FindingChange,
    Suppression,
)
from findings.suppressions import EXPIRING_SOON

#: Controls listed per block; the rest are summed in one line.
MAX_CONTROLS = 25
#: Example resources listed under each control.
MAX_EXAMPLES = 5
#: Account x region gaps listed; the rest are summed in one line.
MAX_GAPS = 40
#: How far ahead expiring exceptions are announced (the exceptions list's
#: "expiring soon" filter too).
EXPIRY_WINDOW = EXPIRING_SOON


def absolute(path: str) -> str:
    """An absolute link for an email: ``SITE_URL`` + a path from ``reverse``."""
    return settings.SITE_URL.rstrip("/") + path


# -- Scope -----------------------------------------------------------------------------


def scope_accounts(subscription: DigestSubscription) -> QuerySet:
    """The accounts a subscription reports on, never beyond what its user sees."""
    accounts = Account.objects.for_user(subscription.user)
    if subscription.pk is None:  # an unsaved default (the preview): everything
        return accounts
    team_ids = list(subscription.teams.values_list("pk", flat=True))
    account_ids = list(subscription.accounts.values_list("pk", flat=True))
    if team_ids or account_ids:
        granted = Team.accounts.through.objects.filter(team_id__in=team_ids).values(
            "account_id"
        )
        accounts = accounts.filter(Q(pk__in=granted) | Q(pk__in=account_ids))
    return accounts


def section_filter(slugs: list[str], field_name: str = "section") -> Q:
    """Rollups (or anything with a section slug) in the sections or below them."""
    q = Q()
    for slug in slugs:
        q |= Q(**{field_name: slug}) | Q(**{f"{field_name}__startswith": slug + "/"})
    return q


def _in_sections(section: str, slugs: list[str]) -> bool:
    return any(section == s or section.startswith(s + "/") for s in slugs)


def listed_control_ids(subscription: DigestSubscription) -> list[str] | None:
    """Controls whose findings the lists may show; None: every control."""
    minimum = Severity(subscription.min_severity).rank
    slugs = subscription.sections
    if not slugs and minimum == Severity.LOW.rank:
        return None
    return sorted(
        c.id
        for c in REGISTRY.values()
        if c.severity.rank >= minimum and (not slugs or _in_sections(c.section, slugs))
    )


# -- Computation -----------------------------------------------------------------------


def _scans_as_of(organizations: QuerySet, moment: datetime) -> dict[int, Scan]:
    """Each organization's latest done scan that had finished by ``moment``."""
    scans = (
        Scan.objects.filter(
            organization__in=organizations,
            status__in=dashboard.DONE_STATUSES,
            finished_at__lte=moment,
        )
        .order_by("organization_id", "-finished_at", "-pk")
        .distinct("organization_id")
    )
    return {scan.organization_id: scan for scan in scans}


def _rate_rows(
    accounts: QuerySet,
    slugs: list[str],
    before: dict[int, Scan],
    after: dict[int, Scan],
    organizations: list[Organization],
) -> tuple[RateChange, list[RateChange], list[RateChange]]:
    rollups = ControlRollup.objects.filter(account__in=accounts)
    if slugs:
        rollups = rollups.filter(section_filter(slugs))
    then = rollups.filter(scan_id__in=[s.pk for s in before.values()])
    now = rollups.filter(scan_id__in=[s.pk for s in after.values()])

    def by_org(qs: QuerySet) -> dict[int, Counts]:
        return dashboard.counts_by(qs, "scan__organization_id")

    org_then, org_now = by_org(then), by_org(now)
    overall = RateChange(
        "All your accounts",
        absolute(reverse("findings:overview")),
        sum(org_then.values(), Counts()) if org_then else None,
        sum(org_now.values(), Counts()) if org_now else None,
    )
    org_rows = [
        RateChange(
            org.name,
            absolute(reverse("findings:overview") + f"?org={org.pk}"),
            org_then.get(org.pk),
            org_now.get(org.pk),
        )
        for org in organizations
    ]
    sec_then = dashboard.counts_by(then, "section")
    sec_now = dashboard.counts_by(now, "section")
    section_rows = []
    for row in dashboard.section_rows({**sec_then, **sec_now}):
        if row.slug not in sec_then and row.slug not in sec_now:
            continue
        url = reverse("findings:section", args=[row.slug]) if row.known else ""
        section_rows.append(
            RateChange(
                row.title,
                absolute(url) if url else "",
                sec_then.get(row.slug),
                sec_now.get(row.slug),
                depth=row.depth,
            )
        )
    return overall, org_rows, section_rows


def _period_changes(accounts: QuerySet, start: datetime, end: datetime) -> QuerySet:
    return FindingChange.objects.filter(
        finding__account__in=accounts,
        scan__status__in=dashboard.DONE_STATUSES,
        scan__finished_at__gt=start,
        scan__finished_at__lte=end,
    )


def _net_findings(
    accounts: QuerySet,
    start: datetime,
    end: datetime,
    control_ids: list[str] | None,
) -> QuerySet:
    """Findings changed in the period, with their status before and after it."""
    in_period = _period_changes(accounts, start, end)
    mine = in_period.filter(finding=OuterRef("pk"))
    findings = Finding.objects.filter(
        pk__in=in_period.values("finding_id"), account__in=accounts
    )
    if control_ids is not None:
        findings = findings.filter(control_id__in=control_ids)
    return findings.annotate(
        status_before=Subquery(mine.order_by("at", "pk").values("old_status")[:1]),
        status_after=Subquery(mine.order_by("-at", "-pk").values("new_status")[:1]),
    )


def _finding_list(findings: QuerySet, *, query: str) -> FindingList:
    """Findings grouped by control, worst severity and largest count first."""
    counts = {
        row["control_id"]: row["n"]
        for row in findings.values("control_id").annotate(n=Count("pk")).order_by()
    }
    result = FindingList(total=sum(counts.values()))
    if not counts:
        return result

    def rank(control_id: str) -> tuple:
        control = REGISTRY.get(control_id)
        severity = control.severity.rank if control else 0
        return (-severity, -counts[control_id], control_id)

    ordered = sorted(counts, key=rank)
    shown, hidden = ordered[:MAX_CONTROLS], ordered[MAX_CONTROLS:]
    result.more_controls = len(hidden)
    result.more_findings = sum(counts[c] for c in hidden)

    examples: dict[str, list[Example]] = defaultdict(list)
    rows = (
        findings.filter(control_id__in=shown)
        .annotate(
            n=Window(
                RowNumber(),
                partition_by=F("control_id"),
                order_by=[
                    F("account__name").asc(),
                    F("resource__name").asc(),
                    F("resource__resource_id").asc(),
                ],
            )
        )
        .filter(n__lte=MAX_EXAMPLES)
        .select_related("resource", "account")
        .order_by("control_id", "n")
    )
    for finding in rows:
        resource = finding.resource
        examples[finding.control_id].append(
            Example(
                label=str(resource),
                account=str(finding.account),
                region=resource.region,
                reason=finding.reason,
                url=absolute(
                    reverse("findings:resource", args=[resource.pk])
                    + f"?control={finding.control_id}"
                ),
            )
        )
    for control_id in shown:
        control = REGISTRY.get(control_id)
        result.groups.append(
            ControlGroup(
                control_id=control_id,
                title=control.title if control else control_id,
                severity=control.severity.value if control else "",
                count=counts[control_id],
                url=absolute(reverse("findings:control", args=[control_id]) + query),
                examples=examples[control_id],
            )
        )
    return result


def _gaps(accounts: QuerySet, scans: list[Scan]) -> tuple[list[Gap], int]:
    """Failed units of the period's latest scans, one row per account x region."""
    units = (
        ScanUnit.objects.filter(
            scan__in=scans, account__in=accounts, status=ScanUnit.Status.FAILED
        )
        .select_related("account", "scan__organization")
        .order_by("scan__organization__name", "account__name", "region", "service")
    )
    labels = dict(ErrorKind.choices)
    grouped: dict[tuple[int, int, str], Gap] = {}
    for unit in units.iterator(chunk_size=500):
        key = (unit.scan_id, unit.account_id, unit.region)
        gap = grouped.get(key)
        if gap is None:
            gap = grouped[key] = Gap(
                organization=unit.scan.organization.name,
                account=str(unit.account),
                account_url=absolute(unit.account.get_absolute_url()),
                region=unit.region,
                services=[],
                reasons=[],
                scan_url=absolute(
                    reverse("collectors:scan", args=[unit.scan_id]) + "?status=failed"
                ),
            )
        gap.services.append(unit.service)
        reason = labels.get(unit.error_kind or ErrorKind.OTHER, unit.error_kind)
        if reason not in gap.reasons:
            gap.reasons.append(reason)
    gaps = list(grouped.values())
    return gaps[:MAX_GAPS], max(len(gaps) - MAX_GAPS, 0)


def _expiring_target(row: Suppression) -> str:
    """What the digest line says is covered: "<target> in <account>"."""
    if row.scope == Suppression.Scope.RESOURCE:
        return str(row.resource)
    if row.scope == Suppression.Scope.ACCOUNT:
        return "the whole account"
    return "every account"


def expiring_exceptions(
    accounts: QuerySet,
    now: datetime,
    control_ids: list[str] | None,
) -> list[Expiring] | None:
    """Exceptions in force that expire within ``EXPIRY_WINDOW`` of ``now``.

    Those of the digest's accounts, and organization-wide ones of the
    organizations those accounts belong to, soonest first. None when nothing
    expires soon: the digest then leaves the block out rather than say so.
    """
    rows = Suppression.objects.active(now).filter(
        Q(account__in=accounts)
        | Q(
            scope=Suppression.Scope.CONTROL,
            organization__in=accounts.values("organization"),
        ),
        expires_at__lte=now + EXPIRY_WINDOW,
    )
    if control_ids is not None:
        rows = rows.filter(control_id__in=control_ids)
    rows = rows.select_related("account", "resource", "organization", "owner")
    found = []
    for row in rows.order_by("expires_at", "pk")[:100]:
        control = row.control
        found.append(
            Expiring(
                control_id=row.control_id,
                title=control.title if control else row.control_id,
                target=_expiring_target(row),
                account=str(row.account or row.organization),
                owner=(row.owner.get_full_name() or row.owner.get_username())
                if row.owner
                else "",
                reason=row.reason,
                expires_at=row.expires_at,
                url=absolute(reverse("findings:exception", args=[row.pk])),
            )
        )
    return found or None


def build_content(
    subscription: DigestSubscription, start: datetime, end: datetime
) -> DigestContent:
    """Everything a digest for ``subscription`` over ``(start, end]`` shows."""
    accounts = scope_accounts(subscription)
    slugs = list(subscription.sections)
    control_ids = listed_control_ids(subscription)
    organizations = list(dashboard.organizations_for(accounts).order_by("name"))
    org_qs = Organization.objects.filter(pk__in=[o.pk for o in organizations])
    before, after = _scans_as_of(org_qs, start), _scans_as_of(org_qs, end)
    in_period = dict(
        Scan.objects.filter(
            organization__in=org_qs,
            status__in=dashboard.DONE_STATUSES,
            finished_at__gt=start,
            finished_at__lte=end,
        )
        .order_by()
        .values_list("organization_id")
        .annotate(n=Count("pk"))
    )
    states = [
        OrganizationState(
            org, before.get(org.pk), after.get(org.pk), in_period.get(org.pk, 0)
        )
        for org in organizations
    ]
    overall, org_rows, section_rows = _rate_rows(
        accounts, slugs, before, after, organizations
    )
    net = _net_findings(accounts, start, end, control_ids)
    new_failures = _finding_list(
        net.live().filter(status_after="FAIL").exclude(status_before="FAIL"),
        query="?status=FAIL",
    )
    resolved = _finding_list(
        net.filter(status_after="PASS", status_before__in=["FAIL", "ERROR"]),
        query="",
    )
    fresh = [s.after for s in states if s.after and s.scans_in_period]
    gaps, more_gaps = _gaps(accounts, fresh)
    links = {
        "overview": absolute(reverse("findings:overview")),
        "settings": absolute(reverse("findings:digest_settings")),
    }
    return DigestContent(
        subscription=subscription,
        period_start=start,
        period_end=end,
        overall=overall,
        organizations=org_rows,
        sections=section_rows,
        states=states,
        new_failures=new_failures,
        resolved=resolved,
        gaps=gaps,
        more_gaps=more_gaps,
        expiring=expiring_exceptions(accounts, end, control_ids),
        account_count=accounts.count(),
        scope_chosen=subscription.pk is not None
        and (subscription.teams.exists() or subscription.accounts.exists()),
        links=links,
    )
