"""The evaluation engine's writes: only what changed, a fixed number of
statements per account whatever the number of findings.

Scenes are factory-made snapshots of S3 buckets evaluated by the real engine.
"""

import pytest
from django.db import connection

from findings.engine import evaluate_scan
from findings.models import ControlRollup, Finding, FindingChange
from findings.tests.factories import (
    CTL_MFA,
    CTL_S3,
    S3_OPEN,
    make_resource,
    make_rollup,
    make_snapshot,
)

pytestmark = pytest.mark.django_db


def rollup_versions(scan) -> set[tuple[int, str]]:
    """Each rollup row's id and the transaction that last wrote it."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, xmin::text FROM {ControlRollup._meta.db_table} "
            "WHERE scan_id = %s",
            [scan.pk],
        )
        return set(cursor.fetchall())


def s3_counts(scan, account) -> tuple[int, int]:
    row = ControlRollup.objects.get(scan=scan, account=account, control_id=CTL_S3)
    return row.passed, row.failed


def test_re_evaluating_an_unchanged_scan_writes_nothing(scanned):
    scan, payments, data = scanned
    rows = rollup_versions(scan)
    findings, changes = Finding.objects.count(), FindingChange.objects.count()

    evaluate_scan(scan)

    assert rollup_versions(scan) == rows  # no row rewritten, none added or removed
    assert (Finding.objects.count(), FindingChange.objects.count()) == (
        findings,
        changes,
    )
    assert s3_counts(scan, payments) == (0, 3)


def test_re_evaluation_corrects_counts_and_drops_controls_no_longer_counted(scanned):
    scan, payments, data = scanned
    wrong = ControlRollup.objects.get(scan=scan, account=payments, control_id=CTL_S3)
    ControlRollup.objects.filter(pk=wrong.pk).update(passed=7, failed=0)
    # A control this scan does not evaluate (iam is not in its services).
    stale = make_rollup(scan, payments, CTL_MFA, "identity", failed=1)
    untouched = rollup_versions(scan) - {
        r for r in rollup_versions(scan) if r[0] in (wrong.pk, stale.pk)
    }

    evaluate_scan(scan)

    assert s3_counts(scan, payments) == (0, 3)
    assert ControlRollup.objects.filter(pk=wrong.pk).exists()  # updated in place
    assert not ControlRollup.objects.filter(pk=stale.pk).exists()
    assert untouched <= rollup_versions(scan)
    assert s3_counts(scan, data) == (0, 1)


def test_statements_per_account_do_not_grow_with_findings(
    scanned, django_assert_max_num_queries
):
    scan, payments, data = scanned
    for n in range(20):
        bucket = make_resource(payments, name=f"more-{n}", at=scan.started_at)
        make_snapshot(bucket, S3_OPEN, at=scan.started_at, scan=scan)
    evaluate_scan(scan)  # the new findings are written here

    # Units and accounts, then per account: resources, findings, exceptions,
    # savepoint, rollups, release.
    with django_assert_max_num_queries(2 + 2 * 6):
        evaluate_scan(scan)
    assert s3_counts(scan, payments) == (0, 23)
