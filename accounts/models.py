import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from accounts.aws_errors import ErrorKind
from accounts.querysets import AccountQuerySet

account_id_validator = RegexValidator(
    r"^\d{12}$", "An AWS account id is exactly 12 digits."
)
ROLE_NAME_RE = re.compile(r"^[\w+=,.@/-]{1,64}$")
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


def validate_role_name(value: str) -> None:
    if not ROLE_NAME_RE.match(value):
        raise ValidationError(f"{value!r} is not a valid IAM role name.")


def validate_regions(value: list) -> None:
    if not isinstance(value, list):
        raise ValidationError("Regions must be a list.")
    bad = [r for r in value if not isinstance(r, str) or not REGION_RE.match(r)]
    if bad:
        raise ValidationError(f"Not AWS region names: {', '.join(map(str, bad))}")


class Organization(models.Model):
    name = models.CharField(max_length=100, unique=True)
    management_account_id = models.CharField(
        max_length=12, validators=[account_id_validator]
    )
    discovery_role_arn = models.CharField(
        max_length=2048,
        blank=True,
        help_text="Role assumed in the management (or delegated admin) account to "
        "list accounts. Empty: use the base credentials directly.",
    )
    member_role_name = models.CharField(
        max_length=64, default="ParapetAudit", validators=[validate_role_name]
    )
    # An ExternalId is an identifier agreed with the account owner, not a secret
    # (AWS documents it as such); it is still never logged.
    external_id = models.CharField(max_length=1224)
    regions = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_regions],
        help_text="Regions to scan; empty means every region enabled in the account.",
    )
    services = models.JSONField(
        default=list,
        blank=True,
        help_text="Services to scan (collector names, e.g. iam, s3); empty means all. "
        "Controls of a service left out are shown as out of scope, not as passing.",
    )
    simulated = models.BooleanField(
        default=False, help_text="Backed by a local AWS simulator (the demo)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def member_role_arn(self, account_id: str) -> str:
        return f"arn:aws:iam::{account_id}:role/{self.member_role_name}"


def account_label(name: str, account_id: str) -> str:
    """How an account is named in lists and selects: ``str(account)`` for
    code that reads plain values rather than instances."""
    return f"{name} ({account_id})" if name else account_id


class Account(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "ACTIVE", "Active"
        SUSPENDED = "SUSPENDED", "Suspended"
        PENDING_CLOSURE = "PENDING_CLOSURE", "Pending closure"
        CLOSED = "CLOSED", "Closed"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="accounts"
    )
    account_id = models.CharField(max_length=12, validators=[account_id_validator])
    name = models.CharField(max_length=255, blank=True)
    email = models.CharField(max_length=320, blank=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.ACTIVE
    )
    ou_path = models.CharField(max_length=1024, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(
        default=True, help_text="Scan this account. Disabled accounts keep history."
    )
    discovered_at = models.DateTimeField(null=True, blank=True)

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["name", "account_id"]
        constraints = [
            # Discovery upserts by (organization, account id).
            models.UniqueConstraint(
                fields=["organization", "account_id"], name="account_unique_in_org"
            ),
        ]

    def __str__(self) -> str:
        return account_label(self.name, self.account_id)

    def save(self, *args, **kwargs):
        self.full_clean(exclude=["organization"])
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("findings:account", args=[self.pk])

    @property
    def is_scannable(self) -> bool:
        return self.enabled and self.status == self.Status.ACTIVE


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="teams"
    )
    accounts = models.ManyToManyField(Account, related_name="teams", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        ADMIN = "admin", "Team admin"

    team = models.ForeignKey(Team, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class ConnectionTest(models.Model):
    """One try of an organization's member role, from the onboarding page.

    Only the outcome is kept (the assumed identity's ARN, or the classified and
    redacted error), never credentials.
    """

    class Step(models.TextChoices):
        ASSUME = "assume", "sts:AssumeRole"
        IDENTITY = "identity", "sts:GetCallerIdentity"
        READ = "read", "iam:GetAccountSummary"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="connection_tests"
    )
    aws_account_id = models.CharField(
        "AWS account id", max_length=12, validators=[account_id_validator]
    )
    role_arn = models.CharField(max_length=2048)
    tested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField()
    # The last step tried: the failing one, or READ when every step passed.
    step = models.CharField(max_length=8, choices=Step.choices)
    identity_arn = models.CharField(max_length=2048, blank=True)
    error_kind = models.CharField(max_length=16, choices=ErrorKind.choices, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [
            # The onboarding page's history and the list's latest result per
            # organization, newest first.
            models.Index(
                fields=["organization", "-at"], name="conntest_org_recent_idx"
            ),
        ]

    def __str__(self) -> str:
        outcome = "ok" if self.ok else self.error_kind or "failed"
        when = f"{self.at:%Y-%m-%d %H:%M}"
        return f"Connection test of {self.aws_account_id} at {when}: {outcome}"


class AuditEvent(models.Model):
    """One line of the audit log: a sign-in, or a change someone made.

    Written only through ``accounts.audit.record``, which keeps secrets out of
    ``details``. The actor's name is copied, so the line still reads right
    after the user is deleted.
    """

    class Action(models.TextChoices):
        SIGNIN = "signin", "Signed in"
        SIGNIN_FAILED = "signin_failed", "Sign-in failed"
        LOCKED_OUT = "locked_out", "Locked out"
        SIGNOUT = "signout", "Signed out"
        TEAMS_SYNCED = "teams_synced", "Teams set by single sign-on"
        EXCEPTION_CREATED = "exception_created", "Exception created"
        EXCEPTION_CHANGED = "exception_changed", "Exception changed"
        EXCEPTION_REVOKED = "exception_revoked", "Exception revoked"
        EXCEPTION_EXPIRED = "exception_expired", "Exception expired"
        SCOPE_CHANGED = "scope_changed", "Scan scope changed"
        SCHEDULE_CHANGED = "schedule_changed", "Scan schedule changed"
        DIGEST_CHANGED = "digest_changed", "Digest settings changed"

    at = models.DateTimeField(default=timezone.now)
    # None: Parapet itself (an expiry, a command) or an anonymous visitor.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_label = models.CharField(max_length=255, blank=True)
    action = models.CharField(max_length=32, choices=Action.choices)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=255, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [
            # The audit page, newest first, whole or filtered by action.
            models.Index(fields=["-at"], name="audit_recent_idx"),
            models.Index(fields=["action", "-at"], name="audit_action_recent_idx"),
        ]

    def __str__(self) -> str:
        who = self.actor_label or "Parapet"
        return f"{self.get_action_display()} by {who} at {self.at:%Y-%m-%d %H:%M}"

    @property
    def tone(self) -> str:
        """The badge class of the action: failures stand out, sign-ins do not."""
        return _AUDIT_TONES.get(self.action, "badge-info")

    def detail_rows(self) -> list[tuple[str, str, str]]:
        """(label, old, new) per detail; ``old`` is empty unless it is a change."""
        rows = [
            (str(name), str(old), str(new))
            for name, (old, new) in self.details.get("changes", {}).items()
        ]
        for name, value in self.details.items():
            if name == "changes":
                continue
            text = ", ".join(map(str, value)) if isinstance(value, list) else value
            rows.append((str(name).replace("_", " "), "", str(text)))
        return rows


_AUDIT_TONES = {
    AuditEvent.Action.SIGNIN: "badge-pass",
    AuditEvent.Action.SIGNIN_FAILED: "badge-error",
    AuditEvent.Action.LOCKED_OUT: "badge-fail",
    AuditEvent.Action.SIGNOUT: "badge-na",
    AuditEvent.Action.EXCEPTION_CREATED: "badge-suppressed",
    AuditEvent.Action.EXCEPTION_CHANGED: "badge-suppressed",
    AuditEvent.Action.EXCEPTION_REVOKED: "badge-suppressed",
    AuditEvent.Action.EXCEPTION_EXPIRED: "badge-suppressed",
}
