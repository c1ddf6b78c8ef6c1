"""The scan pipeline's invariants (DESIGN.md), through moto, Postgres and Celery."""

import logging
import re

import pytest
from django.db import connection

from collectors import pipeline
from collectors.models import Resource, Scan, ScanUnit, Snapshot
from collectors.tests.conftest import member_session
from findings.models import ControlRollup, Finding, FindingChange

pytestmark = pytest.mark.django_db


@pytest.fixture
def buckets(moto_org):
    """A private and a public bucket in the first member account."""
    s3 = member_session(moto_org.member_ids[0]).client("s3")
    s3.create_bucket(Bucket="prod-private-data")
    s3.create_bucket(Bucket="prod-public-site")
    s3.put_bucket_acl(Bucket="prod-public-site", ACL="public-read")
    return s3


def _rollup_totals(scan, account_id=None):
    rows = ControlRollup.objects.filter(scan=scan)
    if account_id:
        rows = rows.filter(account__account_id=account_id)
    totals = {"passed": 0, "failed": 0, "errors": 0, "not_applicable": 0, "unknown": 0}
    for row in rows:
        for key in totals:
            totals[key] += getattr(row, key)
    return totals


def test_scan_collects_every_unit_and_evaluates(moto_org, buckets, run_scan):
    scan = run_scan(moto_org, services=["s3", "iam"])

    assert scan.status == Scan.Status.FINISHED
    units = scan.units.all()
    # 3 accounts (management + 2 members) x 2 global services.
    assert units.count() == 6
    assert {u.status for u in units} == {ScanUnit.Status.OK}
    assert all(u.api_calls > 0 for u in units)
    bucket = Resource.objects.get(resource_id="prod-public-site")
    assert bucket.account.account_id == moto_org.member_ids[0]
    assert bucket.current_snapshot.sha256
    acl = Finding.objects.get(resource=bucket, control_id="s3.bucket.no-public-acl")
    assert acl.status == "FAIL"
    assert "AllUsers" in acl.reason
    private = Finding.objects.get(
        resource__resource_id="prod-private-data", control_id="s3.bucket.no-public-acl"
    )
    assert private.status == "PASS"
    assert _rollup_totals(scan)["failed"] > 0


def test_unchanged_rescan_writes_no_snapshots_or_changes(moto_org, buckets, run_scan):
    first = run_scan(moto_org, services=["s3", "iam"])
    snapshots = Snapshot.objects.count()
    findings = Finding.objects.count()

    second = run_scan(moto_org, services=["s3", "iam"])

    assert second.status == Scan.Status.FINISHED
    assert Snapshot.objects.count() == snapshots
    assert sum(u.snapshots_written for u in second.units.all()) == 0
    assert Finding.objects.count() == findings
    assert not FindingChange.objects.filter(scan=second).exists()
    assert _rollup_totals(second) == _rollup_totals(first)


def test_a_real_change_writes_one_snapshot_and_records_the_flip(
    moto_org, buckets, run_scan
):
    run_scan(moto_org, services=["s3"])
    buckets.put_bucket_acl(Bucket="prod-private-data", ACL="public-read")

    second = run_scan(moto_org, services=["s3"])

    bucket = Resource.objects.get(resource_id="prod-private-data")
    history = list(bucket.snapshots.order_by("valid_from"))
    assert len(history) == 2
    assert history[0].valid_to == second.started_at
    assert history[1].valid_to is None
    finding = Finding.objects.get(resource=bucket, control_id="s3.bucket.no-public-acl")
    assert finding.status == "FAIL"
    assert finding.last_changed == second.started_at
    change = FindingChange.objects.get(finding=finding, scan=second)
    assert (change.old_status, change.new_status) == ("PASS", "FAIL")
    assert change.snapshot == history[1]


def test_access_denied_unit_is_a_gap_and_keeps_earlier_findings(
    moto_org, buckets, run_scan, faults
):
    prod = moto_org.member_ids[0]
    first = run_scan(moto_org, services=["s3"])
    before = {
        (f.resource_id, f.control_id): (f.status, f.last_changed)
        for f in Finding.objects.all()
    }
    prod_before = _rollup_totals(first, prod)
    assert prod_before["passed"] > 0

    faults.deny(prod, "s3", "ListBuckets")
    # Meanwhile the public bucket is fixed: without collection, nobody knows.
    buckets.put_bucket_acl(Bucket="prod-public-site", ACL="private")
    second = run_scan(moto_org, services=["s3"])

    assert second.status == Scan.Status.PARTIAL
    gap = second.units.get(account__account_id=prod)
    assert gap.status == ScanUnit.Status.FAILED
    assert gap.error_kind == "access_denied"
    assert "ListBuckets" in gap.error_message
    after = {
        (f.resource_id, f.control_id): (f.status, f.last_changed)
        for f in Finding.objects.all()
    }
    assert after == before  # nothing turned green, nothing resolved
    assert not Resource.objects.filter(deleted_at__isnull=False).exists()
    prod_after = _rollup_totals(second, prod)
    assert prod_after["passed"] == 0
    assert prod_after["unknown"] == sum(prod_before.values())


def test_nothing_collected_fails_the_scan(moto_org, run_scan, faults):
    faults.deny("*", "s3", "ListBuckets")
    scan = run_scan(moto_org, services=["s3"])
    assert scan.status == Scan.Status.FAILED
    assert "No unit" in scan.message


def test_deleted_resource_only_after_a_successful_unit(moto_org, buckets, run_scan):
    run_scan(moto_org, services=["s3"])
    buckets.delete_bucket(Bucket="prod-public-site")

    second = run_scan(moto_org, services=["s3"])

    gone = Resource.objects.get(resource_id="prod-public-site")
    assert gone.deleted_at == second.started_at
    assert not gone.snapshots.filter(valid_to__isnull=True).exists()
    assert not Finding.objects.live().filter(resource=gone).exists()


def test_rerunning_units_and_evaluation_is_idempotent(moto_org, buckets, run_scan):
    scan = run_scan(moto_org, services=["s3", "iam"])
    counts = (
        Snapshot.objects.count(),
        Finding.objects.count(),
        FindingChange.objects.count(),
        ControlRollup.objects.count(),
    )
    # A worker killed mid-unit: the unit is redelivered after the heartbeat
    # timeout, and the chord callback may run again.
    stale = scan.started_at - pipeline.timezone.timedelta(hours=1)
    scan.units.update(status=ScanUnit.Status.RUNNING, heartbeat_at=stale)
    for unit in scan.units.all():
        assert pipeline.run_unit(unit.pk) == "ok"
    Scan.objects.filter(pk=scan.pk).update(status=Scan.Status.EVALUATING)
    pipeline.finish_scan(scan.pk)

    assert (
        Snapshot.objects.count(),
        Finding.objects.count(),
        FindingChange.objects.count(),
        ControlRollup.objects.count(),
    ) == counts
    # A finished unit is not collected again by a duplicate delivery.
    assert pipeline.run_unit(scan.units.first().pk).startswith("skipped")


def test_no_credential_in_database_or_logs(moto_org, buckets, run_scan, faults, caplog):
    caplog.set_level(logging.DEBUG)
    faults.deny(moto_org.member_ids[1], "iam", "ListUsers")
    run_scan(moto_org, services=["s3", "iam"])

    secrets = [s for s in faults.issued_secrets if s]
    assert secrets, "the scan should have assumed roles"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    tables = [
        "collectors_scan",
        "collectors_scanunit",
        "collectors_resource",
        "collectors_snapshot",
        "findings_finding",
        "findings_findingchange",
        "accounts_organization",
        "accounts_account",
    ]
    with connection.cursor() as cursor:
        dump = []
        for table in tables:
            cursor.execute(f"SELECT row_to_json(t)::text FROM {table} t")  # noqa: S608
            dump.extend(row[0] for row in cursor.fetchall())
    stored = "\n".join(dump)
    for secret in secrets:
        assert secret not in logged
        assert secret not in stored
    assert "ext-test-123" not in logged


def test_unknown_service_or_account_is_a_clear_error(moto_org):
    with pytest.raises(pipeline.ScanError, match="unknown services: lambda"):
        pipeline.plan_scan(moto_org, services=["lambda"])
    with pytest.raises(pipeline.ScanError, match="999999999999"):
        pipeline.plan_scan(moto_org, account_ids=["999999999999"])


def test_error_classification_without_secrets():
    from botocore.exceptions import ClientError, EndpointConnectionError

    from accounts.aws_errors import classify

    def error(code, status, message="m"):
        return ClientError(
            {
                "Error": {"Code": code, "Message": message},
                "ResponseMetadata": {"HTTPStatusCode": status},
            },
            "ListThings",
        )

    assert classify(error("AccessDeniedException", 400))[0] == "access_denied"
    assert classify(error("UnauthorizedOperation", 403))[0] == "access_denied"
    assert classify(error("OptInRequired", 403))[0] == "region_disabled"
    assert classify(error("ThrottlingException", 400))[0] == "throttled"
    assert classify(error("", 429))[0] == "throttled"
    # A simulator's bare 404/500 for a call it does not implement.
    assert classify(error("404", 404))[0] == "unsupported"
    assert classify(error("500", 500))[0] == "unsupported"
    # AWS's own 5xx that outlived the retries: the service was overloaded.
    assert classify(error("InternalError", 500))[0] == "throttled"
    kind, message = classify(
        error(
            "AccessDenied",
            403,
            "denied for ASIAABCDEFGHIJKLMNOP with token " + "x" * 100,
        )
    )
    assert "ASIAABCDEFGHIJKLMNOP" not in message
    assert "x" * 100 not in message
    assert (
        classify(EndpointConnectionError(endpoint_url="http://x"))[0] == "unreachable"
    )


@pytest.mark.django_db(transaction=True)
def test_units_run_on_threads_without_a_broker(moto_org, settings):
    """Without Redis a scan's units run on threads of the process, each
    thread with one database connection for all its units, closed after."""
    from django.db.backends.signals import connection_created

    settings.PARAPET_INPROCESS_CONCURRENCY = 2
    s3 = member_session(moto_org.member_ids[0]).client("s3")
    s3.create_bucket(Bucket="threaded-scan-bucket")
    opened = []

    def count(sender, connection, **kwargs):
        opened.append(connection)

    def backends() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                "current_database() AND pid <> pg_backend_pid()"
            )
            return cursor.fetchone()[0]

    before = backends()
    connection_created.connect(count)
    try:
        scan = pipeline.plan_scan(moto_org, services=["s3", "iam"])  # autocommit
    finally:
        connection_created.disconnect(count)
    scan.refresh_from_db()

    assert scan.status == Scan.Status.FINISHED
    assert scan.units.filter(status=ScanUnit.Status.OK).count() == 6
    assert Finding.objects.filter(resource__resource_id="threaded-scan-bucket").exists()
    assert len(opened) == 2  # six units, two threads
    assert backends() == before


def test_enabled_regions_are_asked_once_per_account_and_scan(moto_org, run_scan):
    """Every worker process runs units of every account. The first to ask
    DescribeRegions shares the answer through Django's cache (Redis with
    workers); the others make no EC2 client to ask again."""
    from django.core.cache import cache

    from accounts import aws as aws_sessions
    from collectors.base import COLLECTORS

    account = moto_org.member_ids[0]
    scan = run_scan(moto_org, services=["s3"])

    def collector():
        # As a new worker process would: no session, no client yet.
        aws_sessions.forget_credentials()
        session = aws_sessions.member_session(moto_org, account, scan.session_name)
        return COLLECTORS["ec2"](session, account, "us-east-1", scan.started_at)

    first, second = collector(), collector()
    regions = pipeline.enabled_regions(first, account, scan)
    assert "us-east-1" in regions and first.api_calls == 1

    assert pipeline.enabled_regions(second, account, scan) == regions
    assert second.api_calls == 0 and not second._clients

    cache.clear()  # the cache is where the answer lives
    third = collector()
    assert pipeline.enabled_regions(third, account, scan) == regions
    assert third.api_calls == 1


def test_a_finished_scan_warms_the_overview_of_each_set_of_accounts(
    moto_org, buckets, run_scan, client
):
    """The first reader after a scan gets the cached figures: as few queries
    as a second request, and the same page as one computed afresh."""
    from django.core.cache import cache
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from accounts.models import Account
    from findings.tests.factories import make_team, make_user

    staff = make_user("root", staff=True)
    prod_lead = make_user("prod-lead")
    prod = Account.objects.get(account_id=moto_org.member_ids[0])
    make_team("prod", members=[prod_lead], accounts=[prod])
    cache.clear()

    run_scan(moto_org, services=["s3"])

    def overview() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            html = client.get(reverse("findings:overview")).content.decode()
        return len(queries), re.sub(r'csrfmiddlewaretoken" value="[^"]*"', "", html)

    def each_user() -> list[tuple[int, str]]:
        seen = []
        for user in (staff, prod_lead):
            client.force_login(user)
            seen.append(overview())
        return seen

    warm = each_user()
    cache.clear()
    cold = each_user()
    for (warm_queries, warm_html), (cold_queries, cold_html) in zip(
        warm, cold, strict=True
    ):
        assert warm_queries <= cold_queries - 3
        assert warm_html == cold_html
    dev = moto_org.member_ids[1]
    assert prod.account_id in warm[1][1] and dev not in warm[1][1]
    assert dev in warm[0][1]
