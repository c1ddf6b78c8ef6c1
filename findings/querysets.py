from datetime import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone


class FindingQuerySet(models.QuerySet):
    def for_user(self, user) -> "FindingQuerySet":
        from accounts.models import Account

        return self.filter(account__in=Account.objects.for_user(user))

    def live(self) -> "FindingQuerySet":
        """Findings of resources that still exist."""
        return self.filter(resource__deleted_at__isnull=True)


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
