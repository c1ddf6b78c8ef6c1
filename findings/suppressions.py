"""Exceptions (suppressions): which findings an accepted risk covers, and the
services that create, change, revoke and expire them.

A suppression covers a finding of its control when it names the finding's
resource, the finding's account, or (scope "control") any account of its
organization. Only suppressions in force count (``Suppression.objects.active``).
Covered findings keep their real status; only FAIL and ERROR findings are
counted as suppressed (a passing finding needs no exception).

Two forms of the same rule: ``covered`` is an ``Exists`` for querysets of
findings (the explorer, exports), ``Matcher`` answers in memory for the engine,
which has already loaded the account's findings.

Every create, change, revoke and expiry is one transaction with its
``SuppressionEvent`` (the audit log), and once committed recounts the current
rollups (``recount_current``) so the dashboard shows the change at once. Past
scans' rollups are history and are never rewritten.
"""

import functools
import operator
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from accounts import audit
from accounts.models import Account, Membership, Organization, Team
from collectors import paging
from collectors.models import Resource, ScanUnit
from findings.controls import REGISTRY
from findings.models import (
    MAX_SUPPRESSION,
    ControlRollup,
    Finding,
    FindingChange,
    Suppression,
    SuppressionEvent,
)

#: Statuses an exception turns into "suppressed" in counts.
SUPPRESSIBLE = ("FAIL", "ERROR")

#: "Expiring soon": the exceptions list's filter and the digests' block.
EXPIRING_SOON = timedelta(days=14)

Scope = Suppression.Scope
Action = SuppressionEvent.Action


# -- Which findings an exception covers ----------------------------------------------


def _covering(now: datetime | None, prefix: str) -> QuerySet:
    return (
        Suppression.objects.active(now)
        .filter(control_id=OuterRef(f"{prefix}control_id"))
        .filter(
            Q(resource_id=OuterRef(f"{prefix}resource_id"))
            | Q(
                scope=Scope.ACCOUNT,
                account_id=OuterRef(f"{prefix}account_id"),
            )
            | Q(
                scope=Scope.CONTROL,
                organization_id=OuterRef(f"{prefix}account__organization_id"),
            )
        )
    )


def covered(now: datetime | None = None, prefix: str = "") -> Exists:
    """True for a finding (outer row) that an exception in force covers.

    ``prefix`` reaches the finding from the outer model, e.g. ``"finding__"``
    for a queryset of FindingChange.
    """
    return Exists(_covering(now, prefix))


def excepted_until(now: datetime | None = None, prefix: str = "") -> Subquery:
    """The latest expiry among exceptions in force covering a finding, or None.

    For a findings list's "Excepted until <date>" badge:
    ``findings.annotate(excepted_until=excepted_until())``.
    """
    return Subquery(
        _covering(now, prefix).order_by("-expires_at").values("expires_at")[:1]
    )


#: Past this many exceptions in force over a scope, ``InForce`` holds none and
#: lists use the subqueries again: reading them all on every page, and sending
#: them with every statement, would cost more than the subqueries save.
IN_FORCE_LITERALS = 300


@dataclass(frozen=True)
class InForce:
    """The exceptions in force over a user's accounts, read in one query and
    matched as literal values, in SQL or in memory: ``covered()`` and
    ``excepted_until()`` are a subquery per finding (joining its account for
    the organization-wide exceptions), which a capped count or a walk runs
    for every finding it passes, and which cost a list more to build and
    compile than to run; there are usually a few exceptions to match.

    Only for findings of the accounts it was read for: an organization-wide
    exception is matched through those of its organization's accounts, and
    an exception's organization is its target's (``create`` sets it so).
    """

    now: datetime
    #: control id -> {account id: latest expiry}: account scope, and the
    #: accounts read for of an organization-wide exception's organization.
    accounts: dict[str, dict[int, datetime]] = field(default_factory=dict)
    #: control id -> {resource id: latest expiry}.
    resources: dict[str, dict[int, datetime]] = field(default_factory=dict)
    #: Controls covered on every account read for: no account to test.
    everywhere: frozenset[str] = frozenset()
    #: False past ``IN_FORCE_LITERALS``: the subqueries are used instead.
    complete: bool = True

    @classmethod
    def read(cls, accounts: Iterable, now: datetime) -> "InForce":
        """The exceptions in force at ``now`` over ``accounts``: rows with
        ``pk`` and ``organization_id``, as ``AccountQuerySet.listed`` gives."""
        members: dict[int, set[int]] = defaultdict(set)
        for account in accounts:
            members[account.organization_id].add(account.pk)
        rows = list(
            Suppression.objects.active(now)
            .filter(organization_id__in=sorted(members))
            .order_by()
            .values_list(
                "scope",
                "control_id",
                "organization_id",
                "account_id",
                "resource_id",
                "expires_at",
            )[: IN_FORCE_LITERALS + 1]
        )
        if len(rows) > IN_FORCE_LITERALS:
            return cls(now, complete=False)
        by_account: dict[str, dict[int, datetime]] = defaultdict(dict)
        by_resource: dict[str, dict[int, datetime]] = defaultdict(dict)
        organization_wide: dict[str, set[int]] = defaultdict(set)

        def note(found: dict[int, datetime], pk: int, expires_at: datetime) -> None:
            if pk not in found or found[pk] < expires_at:
                found[pk] = expires_at

        for (
            scope,
            control_id,
            organization_id,
            account_id,
            resource_id,
            expires_at,
        ) in rows:
            if scope == Scope.RESOURCE:
                note(by_resource[control_id], resource_id, expires_at)
            elif scope == Scope.ACCOUNT:
                note(by_account[control_id], account_id, expires_at)
            else:
                organization_wide[control_id].add(organization_id)
                for pk in members[organization_id]:
                    note(by_account[control_id], pk, expires_at)
        everywhere = {
            control_id
            for control_id, organizations in organization_wide.items()
            if organizations >= members.keys()
        }
        return cls(now, dict(by_account), dict(by_resource), frozenset(everywhere))

    def __bool__(self) -> bool:
        """Whether an exception may cover a finding (always when not complete)."""
        return not self.complete or bool(self.accounts or self.resources)

    def until(self, finding) -> datetime | None:
        """``excepted_until()`` of one finding already read (its ``control_id``,
        ``account_id`` and ``resource_id``); only when ``complete``."""
        latest = None
        for by_control, pk in (
            (self.accounts, finding.account_id),
            (self.resources, finding.resource_id),
        ):
            expires_at = by_control.get(finding.control_id, {}).get(pk)
            if expires_at is not None and (latest is None or expires_at > latest):
                latest = expires_at
        return latest

    def covers(self, finding) -> bool:
        """``covered()`` of one finding already read; only when ``complete``."""
        return self.until(finding) is not None

    def covered(self) -> Exists | Q | Value:
        """``covered(now)`` for a queryset of findings, from the literal
        values (``covered`` itself when not ``complete``): a statement the
        same length however many exceptions, each list a hashed lookup."""
        if not self.complete:
            return covered(self.now)
        if not self:
            return Value(False, output_field=BooleanField())
        parts = []
        if self.everywhere:
            parts.append(Q(control_id__in=sorted(self.everywhere)))
        for column, covered_ids in (
            ("account_id", self.accounts),
            ("resource_id", self.resources),
        ):
            pairs = [
                (control_id, pk)
                for control_id, ids in sorted(covered_ids.items())
                if control_id not in self.everywhere
                for pk in sorted(ids)
            ]
            if pairs:
                parts.append(Q(_AmongPairs(column, pairs)))
        return functools.reduce(operator.or_, parts)


class _AmongPairs(Func):
    """A finding's (control id, ``column``) among literal ``pairs``: two
    array parameters, however many pairs, that PostgreSQL hashes once."""

    output_field = BooleanField()

    def __init__(self, column: str, pairs: list[tuple[str, int]]) -> None:
        super().__init__(F("control_id"), F(column))
        self.pairs = pairs

    def as_sql(self, compiler, connection, **extra) -> tuple[str, list]:
        sql, params = super().as_sql(
            compiler, connection, template="(%(expressions)s)", **extra
        )
        controls, ids = zip(*self.pairs, strict=True)
        # Only placeholders and Django's own compiled columns are joined in.
        return (
            f"{sql} IN (SELECT * FROM unnest(%s::varchar[], %s::bigint[]))",  # noqa: S608
            [*params, paging.array_literal(controls), paging.array_literal(ids)],
        )


def findings_in_scope(suppression: Suppression) -> QuerySet:
    """Failing or erroring findings of live resources that ``suppression``
    names, whether or not it is in force (saved or not, for the create form)."""
    findings = Finding.objects.live().filter(
        control_id=suppression.control_id, status__in=SUPPRESSIBLE
    )
    if suppression.scope == Scope.RESOURCE:
        return findings.filter(resource_id=suppression.resource_id)
    if suppression.scope == Scope.ACCOUNT:
        return findings.filter(account_id=suppression.account_id)
    return findings.filter(account__organization_id=suppression.organization_id)


@dataclass
class Matcher:
    """The exceptions in force for one account, answered in memory."""

    resource_keys: set[tuple[int, str]] = field(default_factory=set)
    control_ids: set[str] = field(default_factory=set)  # account or organization-wide

    @classmethod
    def for_account(cls, account: Account, now: datetime) -> "Matcher":
        matcher = cls()
        rows = (
            Suppression.objects.active(now)
            .filter(
                Q(account=account)
                | Q(
                    scope=Scope.CONTROL,
                    organization_id=account.organization_id,
                )
            )
            .values_list("scope", "resource_id", "control_id")
        )
        for scope, resource_id, control_id in rows:
            if scope == Scope.RESOURCE:
                matcher.resource_keys.add((resource_id, control_id))
            else:
                matcher.control_ids.add(control_id)
        return matcher

    def covers(self, resource_id: int, control_id: str) -> bool:
        return (
            control_id in self.control_ids
            or (resource_id, control_id) in self.resource_keys
        )

    def __bool__(self) -> bool:
        return bool(self.resource_keys or self.control_ids)


# -- State -------------------------------------------------------------------------

#: ``with_state`` values and their labels, in the order a reader cares about.
STATES = {
    "expiring": "Expiring soon",
    "active": "In force",
    "expired": "Expired",
    "revoked": "Revoked",
}


def with_state(exceptions: QuerySet, now: datetime) -> QuerySet:
    """Annotate ``state``: revoked, expired, expiring (in force, ending within
    ``EXPIRING_SOON``) or active, so the list filters and shows the same."""
    return exceptions.annotate(
        state=Case(
            When(revoked_at__isnull=False, then=Value("revoked")),
            When(expires_at__lte=now, then=Value("expired")),
            When(expires_at__lte=now + EXPIRING_SOON, then=Value("expiring")),
            default=Value("active"),
            output_field=CharField(),
        )
    )


def state_of(suppression: Suppression, now: datetime) -> str:
    """``with_state`` for one exception already loaded."""
    if suppression.revoked_at is not None:
        return "revoked"
    if suppression.expires_at <= now:
        return "expired"
    if suppression.expires_at <= now + EXPIRING_SOON:
        return "expiring"
    return "active"


# -- Who may manage exceptions --------------------------------------------------------


def administered_account_ids(user) -> set[int]:
    """Accounts granted to a team in which ``user`` has the team-admin role."""
    if not user.is_authenticated:
        return set()
    return set(
        Team.accounts.through.objects.filter(
            team__membership__user=user,
            team__membership__role=Membership.Role.ADMIN,
        ).values_list("account_id", flat=True)
    )


def may_manage(user, scope: str, account_id: int | None) -> bool:
    """Staff manage every exception; a team admin those of the team's accounts.

    An organization-wide exception (scope "control") waives a control for
    accounts no single team owns: staff only.
    """
    if user.is_authenticated and user.is_staff:
        return True
    if scope == Scope.CONTROL or account_id is None:
        return False
    return account_id in administered_account_ids(user)


# -- Services: create, change, revoke, expire -----------------------------------------


def validate_expiry(expires_at: datetime, now: datetime) -> None:
    """In the future, and at most ``MAX_SUPPRESSION`` ahead of ``now``."""
    if expires_at <= now:
        raise ValidationError("The expiry must be in the future.", code="past")
    if expires_at > now + MAX_SUPPRESSION:
        raise ValidationError(
            f"An exception can run for at most {MAX_SUPPRESSION.days} days; "
            "it can be extended before it expires.",
            code="too_long",
        )


def _display(value) -> str:
    if isinstance(value, datetime):
        return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    return "" if value is None else str(value)


def _record(
    suppression: Suppression,
    action: str,
    actor,
    at: datetime,
    changes: dict | None = None,
) -> SuppressionEvent:
    # Mirrored in the audit log of the whole app (accounts.audit), in the
    # same transaction.
    audit.record(
        f"exception_{action}",
        actor=actor,
        target=suppression,
        at=at,
        details={"changes": changes} if changes else {},
    )
    return SuppressionEvent.objects.create(
        suppression=suppression,
        action=action,
        actor=actor,
        at=at,
        changes=changes or {},
    )


def _check_text(reason: str, approver: str) -> None:
    if not reason.strip() or not approver.strip():
        raise ValidationError("A reason and an approver are required.")


def create(
    *,
    actor,
    control_id: str,
    scope: str,
    reason: str,
    approver: str,
    expires_at: datetime,
    resource: Resource | None = None,
    account: Account | None = None,
    organization: Organization | None = None,
    now: datetime | None = None,
) -> Suppression:
    """A new exception and its CREATED event; recounts once committed.

    The target follows ``scope``: a resource (its account and organization
    too), an account, or an organization. Permission is the caller's check
    (``may_manage``); the rules of the data are checked here.
    """
    now = now or timezone.now()
    if control_id not in REGISTRY:
        raise ValidationError(f"Unknown control {control_id!r}.")
    _check_text(reason, approver)
    validate_expiry(expires_at, now)
    target = {Scope.RESOURCE: resource, Scope.ACCOUNT: account}.get(scope, organization)
    if target is None:
        raise ValidationError(f"An exception of scope {scope!r} needs its target.")
    if scope == Scope.RESOURCE:
        account = resource.account
    if scope in (Scope.RESOURCE, Scope.ACCOUNT):
        organization = account.organization
    suppression = Suppression(
        organization=organization,
        scope=scope,
        control_id=control_id,
        account=account if scope != Scope.CONTROL else None,
        resource=resource if scope == Scope.RESOURCE else None,
        reason=reason.strip(),
        approver=approver.strip(),
        owner=actor,
        expires_at=expires_at,
    )
    with transaction.atomic():
        suppression.save()
        initial = {
            "scope": suppression.get_scope_display(),
            "target": suppression.target_label,
            "reason": suppression.reason,
            "approver": suppression.approver,
            "expires_at": _display(expires_at),
        }
        _record(
            suppression,
            Action.CREATED,
            actor,
            now,
            {name: ["", value] for name, value in initial.items()},
        )
        enqueue_recount(suppression.pk)
    return suppression


#: The fields an exception's owner may change after creation.
EDITABLE = ("reason", "approver", "expires_at")


def change(
    suppression: Suppression,
    *,
    actor,
    now: datetime | None = None,
    **values,
) -> dict[str, list[str]]:
    """Change reason, approver and/or expiry; one CHANGED event listing each
    changed field as ``[old, new]``. Nothing changed: no event, no recount.

    A revoked or expired exception is closed: a new one is created instead, so
    the log of the old one stays the story of one decision.
    """
    now = now or timezone.now()
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        current = Suppression.objects.select_for_update().get(pk=suppression.pk)
        if not current.is_active(now):
            raise ValidationError("A revoked or expired exception cannot change.")
        if "reason" in values or "approver" in values:
            _check_text(
                values.get("reason", current.reason),
                values.get("approver", current.approver),
            )
        if "expires_at" in values and values["expires_at"] != current.expires_at:
            validate_expiry(values["expires_at"], now)
        changes = {}
        for name, new in values.items():
            new = new.strip() if isinstance(new, str) else new
            old = getattr(current, name)
            if new != old:
                changes[name] = [_display(old), _display(new)]
                setattr(current, name, new)
        if not changes:
            return {}
        current.save(update_fields=[*changes, "updated_at"])
        _record(current, Action.CHANGED, actor, now, changes)
        if "expires_at" in changes:
            enqueue_recount(current.pk)
    for name in changes:
        setattr(suppression, name, getattr(current, name))
    return changes


def revoke(suppression: Suppression, *, actor, now: datetime | None = None) -> bool:
    """End an exception now; False if it was already revoked (no second event)."""
    now = now or timezone.now()
    with transaction.atomic():
        claimed = Suppression.objects.filter(
            pk=suppression.pk, revoked_at__isnull=True
        ).update(revoked_at=now, revoked_by=actor, updated_at=now)
        if claimed != 1:
            return False
        _record(suppression, Action.REVOKED, actor, now)
        enqueue_recount(suppression.pk)
    suppression.revoked_at, suppression.revoked_by = now, actor
    return True


def expire_due(now: datetime | None = None) -> int:
    """The periodic sweep: an EXPIRED event, once, for each exception whose
    expiry has passed, and a recount. Returns how many it recorded.

    Expired exceptions stop applying at their expiry anyway (``active``); the
    sweep writes the log and moves the current counts. Each row is claimed
    with a conditional update, so two sweeps at once record it once. A
    revoked exception already has its end in the log.
    """
    now = now or timezone.now()
    due = Suppression.objects.filter(
        expiry_recorded=False, revoked_at__isnull=True, expires_at__lte=now
    ).order_by("expires_at")
    recorded = 0
    for suppression in due.iterator():
        with transaction.atomic():
            claimed = Suppression.objects.filter(
                pk=suppression.pk, expiry_recorded=False
            ).update(expiry_recorded=True)
            if claimed != 1:
                continue
            _record(suppression, Action.EXPIRED, None, suppression.expires_at)
            enqueue_recount(suppression.pk)
        recorded += 1
    return recorded


# -- Recounting the current rollups ---------------------------------------------------


def enqueue_recount(suppression_id: int) -> None:
    """Recount once the surrounding transaction commits (a task takes ids)."""
    from findings.tasks import recount_exception

    transaction.on_commit(lambda: recount_exception.delay(suppression_id))


def recount_for(suppression: Suppression, now: datetime | None = None) -> int:
    """Recount the current rollups that ``suppression`` touches."""
    return recount_current(
        suppression.organization_id,
        suppression.control_id,
        account_id=suppression.account_id,
        now=now,
    )


def _statuses_then(scan, account_ids: list[int], control_id: str) -> QuerySet:
    """Findings as the scan left them: a later scan may have changed a status
    since, so a finding changed after the scan's clock takes the old status
    of its first later change."""
    clock = scan.started_at
    first_later = (
        FindingChange.objects.filter(finding=OuterRef("pk"), at__gt=clock)
        .order_by("at", "pk")
        .values("old_status")[:1]
    )
    return (
        Finding.objects.filter(
            account_id__in=account_ids, control_id=control_id, first_seen__lte=clock
        )
        .filter(
            Q(resource__deleted_at__isnull=True) | Q(resource__deleted_at__gt=clock)
        )
        .annotate(
            status_then=Case(
                When(last_changed__lte=clock, then=F("status")),
                default=Subquery(first_later),
            )
        )
        .filter(status_then__in=SUPPRESSIBLE)
        .values_list(
            "account_id",
            "resource_id",
            "status_then",
            "resource__service",
            "resource__unit_region",
        )
    )


def recount_current(
    organization_id: int,
    control_id: str,
    *,
    account_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Re-split failed/errors/suppressed of one control in the organization's
    latest done scan (one account, or all), by the exceptions in force ``now``.

    Only findings of resources the scan collected successfully count, as in
    the engine (the others are unknown and stay so). Counts only move between
    failed, errors and suppressed: their sum is the scan's and never changes,
    and nothing moves to passed. Returns the number of rollup rows rewritten.
    """
    from findings.dashboard import latest_scan

    now = now or timezone.now()
    organization = Organization.objects.filter(pk=organization_id).first()
    scan = latest_scan(organization) if organization else None
    if scan is None:
        return 0
    with transaction.atomic():
        rollups = ControlRollup.objects.filter(scan=scan, control_id=control_id)
        if account_id is not None:
            rollups = rollups.filter(account_id=account_id)
        rows = list(rollups.select_for_update().order_by("pk"))
        if not rows:
            return 0
        account_ids = [row.account_id for row in rows]
        ok_scopes: dict[int, set] = defaultdict(set)
        for unit_account, service, region in ScanUnit.objects.filter(
            scan=scan, account_id__in=account_ids, status=ScanUnit.Status.OK
        ).values_list("account_id", "service", "region"):
            ok_scopes[unit_account].add((service, region))
        matchers = {
            account.pk: Matcher.for_account(account, now)
            for account in Account.objects.filter(pk__in=account_ids)
        }
        tally: dict[int, Counter] = defaultdict(Counter)
        for owner, resource_id, status, service, region in _statuses_then(
            scan, account_ids, control_id
        ):
            if (service, region) not in ok_scopes[owner]:
                continue  # unknown in this scan: not failing, not suppressed
            kind = (
                "suppressed"
                if matchers[owner].covers(resource_id, control_id)
                else status
            )
            tally[owner][kind] += 1
        for row in rows:
            _resplit(row, tally[row.account_id])
        ControlRollup.objects.bulk_update(rows, ["failed", "errors", "suppressed"])
    return len(rows)


def _resplit(row: ControlRollup, tally: Counter) -> None:
    """Set the row's split from the tally, keeping failed+errors+suppressed.

    The rollup is the scan's record: should the findings disagree with it
    (a finding removed since), the sum wins and the tally only decides the
    split, suppressed first.
    """
    total = row.failed + row.errors + row.suppressed
    row.suppressed = min(tally["suppressed"], total)
    row.errors = min(tally["ERROR"], total - row.suppressed)
    row.failed = total - row.suppressed - row.errors
