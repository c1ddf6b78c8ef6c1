"""The order a scan's units are sent in: longest first.

Workers take units from the queue in the order they were sent. In planning
order (account, service, region) the slow global units of the last accounts
(IAM, S3: tens of calls each) start last and make a tail after every other
unit has ended. Sent longest first, they start at once and the short units
fill the slots around them, so the scan ends close to its total work divided
by the workers' concurrency (longest processing time first scheduling).
"""

from collections import defaultdict
from datetime import timedelta
from statistics import fmean

from django.db.models import F

from collectors.models import GLOBAL_REGION, Scan, ScanUnit

# Seconds a unit of each service took in a benchmark organization (demo
# accounts, 100 ms per AWS call, bench/collection.py), for a first scan: they
# rank the services, the next scan uses its own measured durations. Services
# not listed make a few calls.
FIRST_SCAN_SECONDS = {
    "s3": 9.0,
    "iam": 6.0,
    "ec2": 3.5,
    "kms": 1.8,
    "cloudwatch": 1.6,
    "accessanalyzer": 1.5,
    "backup": 1.4,
    "vpc": 1.3,
    "route53": 1.3,
    "account": 1.2,
    "sns": 1.2,
    "elb": 1.2,
}
OTHER_SERVICE_SECONDS = 0.8
# A global unit covers the whole account: with no better figure, rank it
# above a regional unit of the same estimate.
GLOBAL_FACTOR = 1.5

#: Scans whose unit durations describe the organization (collected in full
#: or nearly); a failed or cancelled scan's durations are of errors.
MEASURED_STATUSES = (Scan.Status.FINISHED, Scan.Status.PARTIAL)

_Key = tuple[int, str, str]  # account pk, region, service


def longest_first(scan_id: int, unit_ids: list[int]) -> list[int]:
    """``unit_ids`` ordered by expected duration, longest first.

    Expected: the same account × region × service's duration in the
    organization's previous finished scan; else the mean of that service's
    units there (an account added since); else ``FIRST_SCAN_SECONDS``. Ties
    keep the given order.
    """
    units = list(
        ScanUnit.objects.filter(pk__in=unit_ids).values_list(
            "pk", "account_id", "region", "service", "scan__organization_id"
        )
    )
    if not units:
        return list(unit_ids)
    previous = _previous_durations(units[0][4], scan_id)
    by_service: dict[str, list[float]] = defaultdict(list)
    for (_account, _region, service), seconds in previous.items():
        by_service[service].append(seconds)
    service_mean = {service: fmean(found) for service, found in by_service.items()}

    def expected(unit: tuple) -> float:
        _pk, account_id, region, service, _org = unit
        if (account_id, region, service) in previous:
            return previous[(account_id, region, service)]
        if service in service_mean:
            return service_mean[service]
        estimate = FIRST_SCAN_SECONDS.get(service, OTHER_SERVICE_SECONDS)
        return estimate * GLOBAL_FACTOR if region == GLOBAL_REGION else estimate

    position = {pk: n for n, pk in enumerate(unit_ids)}
    units.sort(key=lambda unit: (-expected(unit), position[unit[0]]))
    return [unit[0] for unit in units]


def _previous_durations(organization_id: int, scan_id: int) -> dict[_Key, float]:
    """Seconds each unit of the organization's last measured scan took."""
    previous = (
        Scan.objects.filter(
            organization_id=organization_id,
            status__in=MEASURED_STATUSES,
            pk__lt=scan_id,
        )
        .order_by("-started_at")
        .values_list("pk", flat=True)
        .first()  # scan_org_recent_idx
    )
    if previous is None:
        return {}
    rows = (
        ScanUnit.objects.filter(
            scan_id=previous, started_at__isnull=False, finished_at__isnull=False
        )
        .annotate(took=F("finished_at") - F("started_at"))
        .values_list("account_id", "region", "service", "took")
    )
    return {
        (account_id, region, service): max(took, timedelta()).total_seconds()
        for account_id, region, service, took in rows
    }
