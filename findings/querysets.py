from datetime import datetime

from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone


class FindingQuerySet(models.QuerySet):
    def for_user(self, user) -> "FindingQuerySet":
        from accounts.models import Account

        return self.filter(account__in=Account.objects.for_user(user))

    def live(self) -> "FindingQuerySet":
        """Findings of resources that still exist.

        Asked as "no deleted resource": deleted resources are few, and
        ``resource_deleted_idx`` answers for each finding without reading
        its resource's row, where a join read the resource of every finding
        counted (the capped counts of the control page and the explorer).
        """
        from collectors.models import Resource

        deleted = Resource.objects.filter(
            pk=OuterRef("resource_id"), deleted_at__isnull=False
        )
        return self.filter(~Exists(deleted))

    def for_rows(self) -> "FindingQuerySet":
        """With what a findings list's row shows of its resource and account,
        and nothing else: an account's tags or a resource's ARN would be read
        and turned into Python for every row only to be left unused."""
        return self.select_related("resource", "account").only(*ROW_FIELDS)


#: The columns a findings list's row reads (``FindingQuerySet.for_rows``).
ROW_FIELDS = (
    "status",
    "control_id",
    "reason",
    "last_changed",
    "account_id",
    "resource_id",
    "resource__resource_type",
    "resource__resource_id",
    "resource__region",
    "resource__name",
    "account__name",
    "account__account_id",
)


class RollupQuerySet(models.QuerySet):
    def for_user(self, user) -> "RollupQuerySet":
        from accounts.models import Account

        return self.filter(account__in=Account.objects.for_user(user))


class SuppressionQuerySet(models.QuerySet):
    def active(self, now: datetime | None = None) -> "SuppressionQuerySet":
        """In force at ``now``: not revoked and not yet expired."""
        return self.filter(
            revoked_at__isnull=True, expires_at__gt=now or timezone.now()
        )

    def for_user(self, user) -> "SuppressionQuerySet":
        """Exceptions touching the user's accounts; organization-wide ones of
        the organizations those accounts belong to."""
        from accounts.models import Account

        accounts = Account.objects.for_user(user)
        return self.filter(
            Q(account__in=accounts)
            | Q(account__isnull=True, organization__in=accounts.values("organization"))
        )
