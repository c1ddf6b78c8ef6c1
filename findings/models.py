import functools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.signals import m2m_changed, post_save
from django.dispatch import receiver

from accounts.models import Account, Membership, Organization, Team
from collectors.models import Resource, Scan, Snapshot
from findings.controls.base import REGISTRY, Control, Severity, Status
from findings.querysets import (
    FindingQuerySet,
    RollupQuerySet,
    SuppressionQuerySet,
)

STATUS_CHOICES = [(s.value, s.value.replace("_", " ").title()) for s in Status]


class Finding(models.Model):
    """The current result of one control on one resource."""

    # Denormalised from the resource so scoping and per-account counts need no join.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    resource = models.ForeignKey(
        Resource, on_delete=models.CASCADE, related_name="findings"
    )
    control_id = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=STATUS_CHOICES)
    reason = models.TextField()
    first_seen = models.DateTimeField()
    last_changed = models.DateTimeField()
    # The snapshot current when the status last changed ("this change flipped it").
    snapshot = models.ForeignKey(
        Snapshot, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    scan = models.ForeignKey(
        Scan, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = FindingQuerySet.as_manager()

    class Meta:
        constraints = [
            # A finding's identity: (resource, control). Re-evaluation upserts.
            models.UniqueConstraint(
                fields=["resource", "control_id"], name="finding_identity"
            ),
        ]
        indexes = [
            # Control page: findings of a control by account and status.
            models.Index(
                fields=["control_id", "account", "status"],
                name="finding_control_idx",
            ),
            # Account page and overview drill-downs: an account's failures.
            models.Index(fields=["account", "status"], name="finding_account_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.control_id} on {self.resource}: {self.status}"

    def get_absolute_url(self) -> str:
        return self.resource.get_absolute_url()

    @property
    def control(self) -> Control | None:
        return REGISTRY.get(self.control_id)


class FindingChange(models.Model):
    """A status change of a finding, with the snapshot that caused it."""

    finding = models.ForeignKey(
        Finding, on_delete=models.CASCADE, related_name="changes"
    )
    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()
    old_status = models.CharField(max_length=16, choices=STATUS_CHOICES, blank=True)
    new_status = models.CharField(max_length=16, choices=STATUS_CHOICES)
    reason = models.TextField()
    snapshot = models.ForeignKey(
        Snapshot, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-pk"]
        constraints = [
            # A re-run of the same scan's evaluation records a change once.
            models.UniqueConstraint(
                fields=["finding", "scan"], name="finding_change_once_per_scan"
            ),
        ]
        indexes = [
            # "What changed in this scan" on the overview and scan pages.
            models.Index(fields=["scan", "new_status"], name="change_scan_idx"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.finding.control_id}: {self.old_status or 'new'} → {self.new_status}"
        )


#: ControlRollup's counters, in a fixed order (the engine's count lists and
#: upsert, the history generator's COPY).
ROLLUP_COUNTS = (
    "passed",
    "failed",
    "errors",
    "not_applicable",
    "unknown",
    "suppressed",
)


class RollupCounts(models.Model):
    """The counters of both rollups (``ROLLUP_COUNTS``) and the scan's clock."""

    at = models.DateTimeField()  # the scan's clock
    passed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    not_applicable = models.PositiveIntegerField(default=0)
    # Findings whose resource was not collected in this scan: not passing.
    unknown = models.PositiveIntegerField(default=0)
    # FAIL or ERROR findings under an exception in force; not in failed/errors.
    suppressed = models.PositiveIntegerField(default=0)

    objects = RollupQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def evaluated(self) -> int:
        return self.passed + self.failed + self.errors + self.unknown + self.suppressed


class ControlRollup(RollupCounts):
    """Counts per scan x account x control; every dashboard aggregate reads these."""

    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="rollups")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    control_id = models.CharField(max_length=100)
    section = models.CharField(max_length=100)

    class Meta:
        constraints = [
            # Re-running a scan's evaluation replaces, never duplicates.
            models.UniqueConstraint(
                fields=["scan", "account", "control_id"], name="rollup_identity"
            ),
        ]
        indexes = [
            # Trends: an account's rollups over time.
            models.Index(fields=["account", "at"], name="rollup_account_time_idx"),
            # Control and section trends.
            models.Index(fields=["control_id", "at"], name="rollup_control_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.control_id} {self.account_id} scan {self.scan_id}"


class AccountRollup(RollupCounts):
    """Counts per scan x account: the sum of its ControlRollups, kept by
    PostgreSQL (migration 0008_account_rollup).

    Trends and per-account figures read these: a year of an organization's
    history is days x accounts rows here, against days x accounts x controls
    in ControlRollup (65 million at 1,000 accounts). Statement triggers on
    ControlRollup recompute the totals of every (scan, account) a write
    touched, inside the writer's transaction, so the engine, exception
    recounts and deletes never have to remember them. Only the history
    generator, which loads with triggers off, writes them itself.
    """

    scan = models.ForeignKey(
        Scan, on_delete=models.CASCADE, related_name="account_rollups"
    )
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scan", "account"], name="account_rollup_identity"
            ),
        ]
        indexes = [
            # Trends and sparklines: accounts' totals over time.
            models.Index(fields=["account", "at"], name="account_rollup_trend_idx"),
        ]

    def __str__(self) -> str:
        return f"account {self.account_id} scan {self.scan_id}"


class ControlTotal(RollupCounts):
    """Counts per scan x control over every account of the scan: the sum of
    its ControlRollups, kept by PostgreSQL (migration 0009_control_total).

    Control and section figures of a user who sees whole organizations (most
    users) read these: a control's year is 365 rows here, against 365 x
    accounts rollups, and a section's sparklines 30 x controls rows against
    30 x controls x accounts (1.5 million at 1,000 accounts). Statement
    triggers on ControlRollup add what a write inserted and take away what it
    deleted, inside the writer's transaction. Only the history generator,
    which loads with triggers off, writes them itself.
    """

    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="+")
    control_id = models.CharField(max_length=100)
    section = models.CharField(max_length=100)
    # ControlRollups summed here (one per account): the row goes with the last.
    accounts = models.PositiveIntegerField(default=0)

    objects = models.Manager()  # no accounts to narrow to a user's

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scan", "control_id"], name="control_total_identity"
            ),
        ]
        indexes = [
            # Control trends: one control's totals over time.
            models.Index(fields=["control_id", "at"], name="control_total_trend_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.control_id} scan {self.scan_id}"


def pass_rate(
    passed: int, failed: int, errors: int, unknown: int, suppressed: int = 0
) -> float | None:
    """Share passing among findings that should pass; None when nothing applies.

    ERROR and unknown (not collected) count against the rate: a gap can lower
    it, never raise it. So do suppressed findings (failing or erroring under an
    accepted exception): an exception moves a finding out of the failing list,
    never into the passing one.
    """
    total = passed + failed + errors + unknown + suppressed
    return None if total == 0 else passed / total


#: The longest an exception may run before someone has to look at it again.
MAX_SUPPRESSION = timedelta(days=365)


class Suppression(models.Model):
    """An accepted risk (an "exception"): a control waived for a resource, an
    account or the whole organization, until it expires.

    Findings it covers keep their real status; rollups count them as
    ``suppressed`` rather than failing, and never as passing. Suppressions are
    never deleted: revoking or expiring one keeps the row and its audit trail
    (SuppressionEvent).
    """

    class Scope(models.TextChoices):
        RESOURCE = "resource", "One resource"
        ACCOUNT = "account", "One account"
        CONTROL = "control", "The whole control"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+"
    )
    scope = models.CharField(max_length=10, choices=Scope.choices)
    control_id = models.CharField(max_length=100)
    # Set for the account and resource scopes; the resource's account for both.
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    resource = models.ForeignKey(
        Resource, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    reason = models.TextField()
    # Who accepted the risk: a name or address, not necessarily a Parapet user.
    approver = models.CharField(max_length=200)
    # Who asked for it in Parapet and answers for it.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Set once the expiry has been written to the audit log and the rollups
    # recounted, so the periodic sweep handles each expiry exactly once.
    expiry_recorded = models.BooleanField(default=False)

    objects = SuppressionQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="suppression_scope_targets",
                condition=(
                    Q(scope="resource", account__isnull=False, resource__isnull=False)
                    | Q(scope="account", account__isnull=False, resource__isnull=True)
                    | Q(scope="control", account__isnull=True, resource__isnull=True)
                ),
            ),
        ]
        indexes = [
            # Matching findings to the exceptions in force for their control.
            models.Index(fields=["control_id", "expires_at"], name="suppr_control_idx"),
            # The exceptions list and expiry sweep: soonest first.
            models.Index(fields=["expires_at"], name="suppr_expiry_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.control_id} on {self.target_label}"

    @property
    def target_label(self) -> str:
        if self.scope == self.Scope.RESOURCE:
            return str(self.resource)
        if self.scope == self.Scope.ACCOUNT:
            return str(self.account)
        return f"every account of {self.organization}"

    @property
    def control(self) -> Control | None:
        return REGISTRY.get(self.control_id)

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now


class SuppressionEvent(models.Model):
    """The audit log of exceptions: every create, change, revoke and expiry."""

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        CHANGED = "changed", "Changed"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    suppression = models.ForeignKey(
        Suppression, on_delete=models.CASCADE, related_name="events"
    )
    at = models.DateTimeField()
    # None: Parapet itself (an expiry).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    # For a change: {field: [old, new]} as display strings.
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["-at"], name="suppr_event_recent_idx")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.suppression} at {self.at:%Y-%m-%d}"


__all__ = [
    "ControlRollup",
    "Finding",
    "FindingChange",
    "pass_rate",
    "Q",
    "Suppression",
    "SuppressionEvent",
]


# -- Email digests ---------------------------------------------------------------------


@functools.cache
def time_zone_names() -> frozenset[str]:
    """IANA names; reading the tz database is slow, so once per process."""
    return frozenset(available_timezones())


def validate_timezone(value: str) -> None:
    if value not in time_zone_names():
        raise ValidationError(f"{value!r} is not an IANA time zone name.")


def validate_section_slugs(value: list) -> None:
    from findings import sections

    if not isinstance(value, list):
        raise ValidationError("Sections must be a list of slugs.")
    unknown = [s for s in value if not sections.get_section(str(s))]
    if unknown:
        raise ValidationError(f"Unknown sections: {', '.join(map(str, unknown))}")


SEVERITY_CHOICES = [(s.value, s.value.title()) for s in Severity]


class DigestSubscription(models.Model):
    """When and about what one user gets an email digest.

    A row with ``default_for_team`` instead of a user is a team's default: a
    user who joins the team and has no subscription yet gets a copy of it,
    scoped to that team (``findings.digests.apply_team_default``).
    """

    class Frequency(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="digest_subscription",
    )
    default_for_team = models.OneToOneField(
        Team,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="digest_default",
        help_text="Set instead of a user: new members of this team are subscribed "
        "with these settings.",
    )
    active = models.BooleanField(default=True)
    frequency = models.CharField(
        max_length=6, choices=Frequency.choices, default=Frequency.DAILY
    )
    hour = models.PositiveSmallIntegerField(
        default=8,
        validators=[MaxValueValidator(23)],
        help_text="Hour of the day (0-23) in the subscription's time zone.",
    )
    weekday = models.PositiveSmallIntegerField(
        choices=Weekday.choices,
        default=Weekday.MONDAY,
        help_text="Day of a weekly digest.",
    )
    timezone = models.CharField(
        max_length=64, default="UTC", validators=[validate_timezone]
    )
    # Scope: no team and no account chosen means every account the user may
    # see. Whatever is chosen, the user's teams bound it at send time.
    teams = models.ManyToManyField(Team, blank=True, related_name="+")
    accounts = models.ManyToManyField(Account, blank=True, related_name="+")
    sections = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_section_slugs],
        help_text="Whitepaper section slugs (with everything below them); "
        "empty means all sections.",
    )
    min_severity = models.CharField(
        max_length=8,
        choices=SEVERITY_CHOICES,
        default=Severity.LOW.value,
        help_text="Findings of lower severity are left out of the lists.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # Either a user's subscription or a team's default, never both.
            models.CheckConstraint(
                condition=Q(user__isnull=False, default_for_team__isnull=True)
                | Q(user__isnull=True, default_for_team__isnull=False),
                name="digest_user_xor_team_default",
                violation_error_message="Set either a user or a team (whose new "
                "members get this default), not both.",
            ),
        ]
        indexes = [
            # The hourly run: active subscriptions of users.
            models.Index(
                fields=["active"],
                name="digest_active_idx",
                condition=Q(user__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        owner = self.user or f"default of team {self.default_for_team}"
        return f"{self.get_frequency_display()} digest for {owner}"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def period(self) -> timedelta:
        return timedelta(days=7 if self.frequency == self.Frequency.WEEKLY else 1)

    def _slot_on(self, day: date) -> datetime:
        """The digest time on a local calendar day, in UTC."""
        local = datetime.combine(day, time(self.hour), tzinfo=self.zone)
        return local.astimezone(UTC)

    def _is_send_day(self, day: date) -> bool:
        return self.frequency == self.Frequency.DAILY or day.weekday() == self.weekday

    def latest_slot(self, now: datetime) -> datetime:
        """The most recent send time at or before ``now`` (UTC)."""
        today = now.astimezone(self.zone).date()
        for back in range(9):
            day = today - timedelta(days=back)
            if self._is_send_day(day) and self._slot_on(day) <= now:
                return self._slot_on(day)
        raise AssertionError("a send day occurs every week")  # pragma: no cover

    def next_slot(self, now: datetime) -> datetime:
        """The first send time after ``now`` (UTC), for the settings page."""
        today = now.astimezone(self.zone).date()
        for ahead in range(9):
            day = today + timedelta(days=ahead)
            if self._is_send_day(day) and self._slot_on(day) > now:
                return self._slot_on(day)
        raise AssertionError("a send day occurs every week")  # pragma: no cover

    def previous_slot(self, slot: datetime) -> datetime:
        """The send time one period before ``slot``, by the local calendar."""
        day = slot.astimezone(self.zone).date() - self.period
        return self._slot_on(day)


class SentDigest(models.Model):
    """One digest for one user and period, claimed before it is sent.

    The unique (user, frequency, period_end) row is the exactly-once rule: a
    second beat tick or a retried task finds the row and does not send again.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Claimed, not sent yet"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        EMPTY = "empty", "Nothing to report (not sent)"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        MANUAL = "manual", "Command line"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    subscription = models.ForeignKey(
        DigestSubscription,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sent",
    )
    frequency = models.CharField(
        max_length=6, choices=DigestSubscription.Frequency.choices
    )
    trigger = models.CharField(
        max_length=10, choices=Trigger.choices, default=Trigger.SCHEDULED
    )
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    to_address = models.CharField(max_length=320, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by every claim and state change: a SENDING row older than the lease
    # belongs to a worker that died and may be claimed again.
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period_end", "-pk"]
        constraints = [
            # Exactly one digest per user and period, whoever claims it first.
            models.UniqueConstraint(
                fields=["user", "frequency", "period_end"],
                name="digest_once_per_period",
            ),
        ]
        indexes = [
            # The hourly run's recovery sweep: claimed rows never finished.
            models.Index(
                fields=["status", "updated_at"],
                name="digest_unfinished_idx",
                condition=Q(status__in=["pending", "sending"]),
            ),
            # "Since the previous digest" and the settings page's history.
            models.Index(fields=["user", "-period_end"], name="digest_user_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.frequency} digest for {self.user} until {self.period_end:%c}"


@receiver(post_save, sender=Membership, dispatch_uid="digest_default_on_membership")
def _subscribe_new_member(sender, instance, created, raw=False, **kwargs) -> None:
    if created and not raw:
        from findings.digests import apply_team_default

        apply_team_default(instance.team_id, instance.user_id)


@receiver(
    m2m_changed, sender=Team.members.through, dispatch_uid="digest_default_on_add"
)
def _subscribe_added_members(
    sender, instance, action, reverse, pk_set, **kwargs
) -> None:
    # team.members.add() bulk-creates memberships: no post_save is sent.
    if action != "post_add" or not pk_set:
        return
    from findings.digests import apply_team_default

    for pk in pk_set:
        team_id, user_id = (pk, instance.pk) if reverse else (instance.pk, pk)
        apply_team_default(team_id, user_id)


__all__ += ["DigestSubscription", "SentDigest"]
