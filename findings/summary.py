"""Small read-side helpers shared by the CLI and the pages."""

from django.db.models import Count

from findings.controls.base import Status
from findings.models import Finding


def findings_by_status(organization) -> dict[str, int]:
    """Current findings of live resources in an organization, by status."""
    counts = {s.value: 0 for s in Status}
    rows = (
        Finding.objects.live()
        .filter(account__organization=organization)
        .values("status")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        counts[row["status"]] = row["n"]
    return counts
