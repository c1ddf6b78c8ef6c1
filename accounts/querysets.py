from typing import NamedTuple

from django.db import models


class AccountRow(NamedTuple):
    """What lists, selects and cache keys read of an account in scope: plain
    values, not a model instance (a user may see a thousand accounts)."""

    pk: int
    name: str
    account_id: str
    ou_path: str
    organization_id: int


class AccountQuerySet(models.QuerySet):
    # ``listed()``'s rows once read; a clone (``filter`` …) starts without.
    _listed: list[AccountRow] | None = None

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

    def listed(self) -> list[AccountRow]:
        """The accounts as ``AccountRow``s, by name then account id.

        Read once per queryset, as a queryset keeps its own results: a page
        hands one scope to its figures' cache key, its filters and its
        selects, which then share one read of what may be a thousand rows.
        """
        if self._listed is None:
            rows = self.order_by("name", "account_id").values_list(
                "pk", "name", "account_id", "ou_path", "organization_id"
            )
            self._listed = list(map(AccountRow._make, rows))
        return self._listed
