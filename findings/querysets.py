from django.db import models


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
