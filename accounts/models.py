import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse

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
        return f"{self.name} ({self.account_id})" if self.name else self.account_id

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
