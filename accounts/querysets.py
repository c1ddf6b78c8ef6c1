from django.db import models


class AccountQuerySet(models.QuerySet):
    def for_user(self, user) -> "AccountQuerySet":
        """The accounts a user may see: staff see all, others their teams'."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self
        # A subquery rather than a join, so callers can aggregate without
        # duplicates from users in several teams.
        granted = self.model.teams.through.objects.filter(team__members=user).values(
            "account_id"
        )
        return self.filter(pk__in=granted)

    def scannable(self) -> "AccountQuerySet":
        return self.filter(enabled=True, status="ACTIVE")
