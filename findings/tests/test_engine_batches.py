"""The engine over many accounts: accounts read and written in batches, the
exceptions of the whole scan read once, and an unchanged re-evaluation that
writes nothing at all, so the dashboard's cached figures stay valid.

Scenes are factory-made snapshots of S3 buckets evaluated by the real engine.
"""

import gc
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from findings import engine, suppressions
from findings.dashboard import rollup_version
from findings.engine import evaluate_scan
from findings.models import ControlRollup, FindingChange, Suppression
from findings.tests.factories import (
    CTL_S3,
    S3_CLOSED,
    S3_OPEN,
    make_account,
    make_org,
    make_resource,
    make_scan,
    make_snapshot,
    make_unit,
    make_user,
)

pytestmark = pytest.mark.django_db

Scope = Suppression.Scope


def s3_scan(org, accounts, at):
    scan = make_scan(org, at=at)
    scan.services = ["s3"]
    scan.save(update_fields=["services"])
    for account in accounts:
        make_unit(scan, account, service="s3")
    return scan


def bucket(account, name, config, scan):
    resource = make_resource(account, name=name, at=scan.started_at)
    make_snapshot(resource, config, at=scan.started_at, scan=scan)
    return resource


def split(scan, account) -> tuple[int, int, int]:
    """(passed, failed, suppressed) of the public-access control."""
    row = ControlRollup.objects.get(scan=scan, account=account, control_id=CTL_S3)
    return row.passed, row.failed, row.suppressed


@pytest.fixture
def five_accounts(monkeypatch):
    """Five accounts of Acme, two open buckets each, evaluated two accounts at
    a time so that the scan spans three batches."""
    monkeypatch.setattr(engine, "ACCOUNTS_PER_BATCH", 2)
    org = make_org("Acme")
    accounts = [make_account(org, f"team-{n}") for n in range(5)]
    scan = s3_scan(org, accounts, timezone.now() - timedelta(hours=1))
    buckets = {
        account: [bucket(account, f"{account.name}-{n}", S3_OPEN, scan) for n in (1, 2)]
        for account in accounts
    }
    evaluate_scan(scan)
    return org, accounts, buckets, scan


def test_an_unchanged_re_evaluation_writes_nothing_and_keeps_the_cache(
    five_accounts,
):
    org, accounts, buckets, scan = five_accounts
    version = rollup_version()

    with CaptureQueriesContext(connection) as queries:
        totals = evaluate_scan(scan)

    assert totals["evaluated"] >= 10 and totals["changed"] == totals["created"] == 0
    statements = [q["sql"].split(None, 1)[0].upper() for q in queries]
    assert set(statements) == {"SELECT"}
    # Units and exceptions, then resources, findings and rollups per batch.
    assert len(statements) == 2 + 3 * 3
    assert rollup_version() == version  # the dashboard keeps its cached figures
    assert [split(scan, a) for a in accounts] == [(0, 2, 0)] * 5


def test_a_changed_bucket_is_written_and_invalidates_the_cache(five_accounts):
    org, accounts, buckets, scan = five_accounts
    later = s3_scan(org, accounts, timezone.now())
    evaluate_scan(later)
    version = rollup_version()
    fixed = buckets[accounts[3]][0]
    make_snapshot(fixed, S3_CLOSED, at=later.started_at, scan=later)

    totals = evaluate_scan(later)

    assert totals["changed"] >= 1
    assert split(later, accounts[3]) == (1, 1, 0)
    assert [split(later, a) for a in accounts[:3]] == [(0, 2, 0)] * 3
    assert rollup_version() != version
    change = FindingChange.objects.get(
        scan=later, finding__resource=fixed, finding__control_id=CTL_S3
    )
    assert (change.old_status, change.new_status) == ("FAIL", "PASS")


def test_exceptions_count_in_their_own_accounts_only(five_accounts):
    org, accounts, buckets, scan = five_accounts
    root = make_user("root", staff=True)
    expires_at = timezone.now() + timedelta(days=30)
    common = {"control_id": CTL_S3, "reason": "On purpose", "approver": "CISO"}
    suppressions.create(
        actor=root,
        scope=Scope.RESOURCE,
        resource=buckets[accounts[0]][0],
        expires_at=expires_at,
        **common,
    )
    suppressions.create(
        actor=root,
        scope=Scope.ACCOUNT,
        account=accounts[4],
        expires_at=expires_at,
        **common,
    )
    # Another organization's control-wide exception covers none of Acme's.
    other = make_org("Other")
    suppressions.create(
        actor=root,
        scope=Scope.CONTROL,
        organization=other,
        expires_at=expires_at,
        **common,
    )
    later = s3_scan(org, accounts, timezone.now())

    evaluate_scan(later)

    assert [split(later, a) for a in accounts] == [
        (0, 1, 1),
        (0, 2, 0),
        (0, 2, 0),
        (0, 2, 0),
        (0, 0, 2),
    ]

    suppressions.create(
        actor=root,
        scope=Scope.CONTROL,
        organization=org,
        expires_at=expires_at,
        **common,
    )
    evaluate_scan(later)

    assert [split(later, a) for a in accounts] == [(0, 0, 2)] * 5


def test_a_number_beyond_a_double_in_a_configuration_is_still_evaluated():
    """PostgreSQL keeps 1e400 in a jsonb document; the fast parser refuses
    it, and the bucket must still be judged rather than lost."""
    org = make_org("Acme")
    account = make_account(org, "team")
    scan = s3_scan(org, [account], timezone.now() - timedelta(hours=1))
    huge = bucket(account, "huge-numbers", S3_CLOSED, scan)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE collectors_snapshot SET config = config || "
            "'{\"ObjectCount\": 1e400}'::jsonb WHERE resource_id = %s",
            [huge.pk],
        )

    evaluate_scan(scan)

    assert split(scan, account) == (1, 0, 0)
    assert huge.findings.get(control_id=CTL_S3).status == "PASS"


@pytest.mark.parametrize("enabled", [True, False])
def test_the_garbage_collector_is_paused_per_batch_and_left_as_found(
    five_accounts, monkeypatch, enabled
):
    """A batch builds many containers without cycles, and the collections
    they set off took a third of an evaluation's CPU. The collector is off
    while a batch is evaluated and as it was afterwards."""
    _org, _accounts, _buckets, scan = five_accounts
    seen = []
    original = engine.run_control

    def recording(control, view, ctx):
        seen.append(gc.isenabled())
        return original(control, view, ctx)

    monkeypatch.setattr(engine, "run_control", recording)
    (gc.enable if enabled else gc.disable)()
    try:
        evaluate_scan(scan)
        assert gc.isenabled() is enabled
    finally:
        gc.enable()
    assert len(seen) >= 10  # every bucket, each control of its type
    assert not any(seen)
