"""Units are sent longest first, and units of one session share its clients.

Tests run units on one thread (conftest), so the order units started in is
the order they were sent in.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import F

from accounts.aws import new_session, share_clients
from collectors.base import COLLECTORS
from collectors.models import Scan, ScanUnit
from findings.testing import ACCOUNT_ID

pytestmark = pytest.mark.django_db


@pytest.fixture
def scan_through(run_scan):
    """``run_scan``, checking that the scan finished."""

    def run(org, **kwargs):
        scan = run_scan(org, **kwargs)
        assert scan.status == Scan.Status.FINISHED, scan.message
        return scan

    return run


def _started_in_order(scan: Scan) -> list[tuple[str, str, str]]:
    return [
        (unit.account.account_id, unit.region, unit.service)
        for unit in scan.units.select_related("account").order_by("started_at")
    ]


def test_a_unit_slow_in_the_last_scan_is_collected_first(moto_org, scan_through):
    services = ["iam", "sns", "sqs"]
    first = scan_through(moto_org, services=services)
    # The unit planned last (highest account, last service) took a minute.
    slow = first.units.order_by("account_id", "service", "region").last()
    assert slow.service == "sqs"
    ScanUnit.objects.filter(pk=slow.pk).update(
        finished_at=slow.started_at + timedelta(seconds=60)
    )

    second = scan_through(moto_org, services=services)

    order = _started_in_order(second)
    assert order[0] == (slow.account.account_id, slow.region, "sqs")


def test_a_first_scan_starts_with_the_global_s3_and_iam_units(moto_org, scan_through):
    scan = scan_through(moto_org, services=["iam", "s3", "sqs"])

    services = [service for _account, _region, service in _started_in_order(scan)]
    accounts = moto_org.accounts.count()
    # Planned account by account (iam, s3, sqs for each); sent by the
    # estimate per service: every S3 unit, then IAM, then SQS.
    assert services == ["s3"] * accounts + ["iam"] * accounts + ["sqs"] * accounts


def test_an_account_added_since_the_last_scan_is_ranked_by_its_service(
    moto_org, scan_through
):
    first = scan_through(moto_org, services=["sns", "sqs"])
    # Last time SQS took 30 s in every account, SNS 5 s.
    for service, seconds in (("sqs", 30), ("sns", 5)):
        first.units.filter(service=service).update(
            finished_at=F("started_at") + timedelta(seconds=seconds)
        )
    # One account has no history, as one added since.
    first.units.filter(account__account_id=ACCOUNT_ID).delete()

    second = scan_through(moto_org, services=["sns", "sqs"])

    services = [service for _account, _region, service in _started_in_order(second)]
    accounts = moto_org.accounts.count()
    assert services == ["sqs"] * accounts + ["sns"] * accounts


def test_collectors_of_one_session_share_clients_and_count_their_own_calls(aws):
    now = datetime.now(UTC)

    def alone(service: str) -> int:
        collector = COLLECTORS[service](new_session(), ACCOUNT_ID, "us-east-1", now)
        list(collector.collect())
        return collector.api_calls

    expected = {service: alone(service) for service in ("ec2", "autoscaling")}
    assert all(expected.values())

    session = share_clients(new_session())  # as a scan's (assume_role)
    ec2, autoscaling = (
        COLLECTORS[service](session, ACCOUNT_ID, "us-east-1", now)
        for service in ("ec2", "autoscaling")
    )
    # Interleaved, as two units on one thread never are but a caller could.
    streams = [ec2.collect(), autoscaling.collect()]
    while streams:
        for stream in list(streams):
            if next(stream, None) is None:
                streams.remove(stream)

    assert ec2.client("ec2") is autoscaling.client("ec2")
    assert {"ec2": ec2.api_calls, "autoscaling": autoscaling.api_calls} == expected
