"""Retention: raw history past PARAPET_RETENTION_DAYS goes, rollups and trends stay."""

import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from collectors.models import Resource, Scan, ScanUnit, Snapshot
from findings import dashboard, retention
from findings.models import ControlRollup, Finding, FindingChange, Suppression
from findings.tests.factories import (
    CTL_MFA,
    CTL_S3,
    SEC_CREDENTIALS,
    SEC_S3,
    T0,
    build_world,
    make_account,
    make_change,
    make_finding,
    make_org,
    make_resource,
    make_rollup,
    make_scan,
    make_snapshot,
    make_unit,
)

pytestmark = pytest.mark.django_db

DAYS = 400
REPO = Path(__file__).resolve().parents[2]


def _delete_resource(resource: Resource, at) -> None:
    """As the store's deletion sweep does: mark it and close its snapshot."""
    Resource.objects.filter(pk=resource.pk).update(deleted_at=at)
    Snapshot.objects.filter(resource=resource, valid_to__isnull=True).update(
        valid_to=at
    )


def _gone_resource(account: Account, scan: Scan, name: str) -> Resource:
    """A failing bucket with a status change, deleted the day after ``scan``."""
    resource = make_resource(account, name=name, at=scan.started_at)
    make_snapshot(resource, {"Name": name}, at=scan.started_at, scan=scan)
    finding = make_finding(resource, CTL_S3, "FAIL", at=scan.started_at, scan=scan)
    make_change(finding, scan, "", "FAIL")
    _delete_resource(resource, scan.started_at + timedelta(days=1))
    return resource


@pytest.fixture
def world(settings):
    """``build_world()`` (scans in March 2025, long past the cutoff) and a recent
    scan that is now the current one, plus deleted resources.

    - bucket: snapshots at T0 (superseded, pruned), T0+1d (the failing
      finding's cause, kept) and the recent scan's (current);
    - root_account: its T0 snapshot, superseded at T0+1d, is the passing
      finding's cause (kept);
    - gone: deleted long ago, pruned with its finding, change and snapshot;
    - excepted: deleted long ago but named by an exception, kept;
    - lately-gone: deleted in the recent scan, kept.
    """
    settings.PARAPET_RETENTION_DAYS = DAYS
    w = build_world()
    now = timezone.now()
    w.cut = now - timedelta(days=DAYS)
    assert w.new.started_at < w.cut, "build_world's scans must be past the cutoff"
    w.recent = make_scan(w.org, at=now - timedelta(days=2))
    for account in (w.payments, w.data):
        make_unit(w.recent, account, service="s3")
    make_rollup(w.recent, w.payments, CTL_MFA, SEC_CREDENTIALS, passed=1)
    make_rollup(w.recent, w.payments, CTL_S3, SEC_S3, passed=3)
    make_rollup(w.recent, w.data, CTL_S3, SEC_S3, passed=2, failed=2)
    w.third = make_snapshot(
        w.bucket,
        {"PublicAccessBlock": {"BlockPublicAcls": True}},
        at=w.recent.started_at,
        scan=w.recent,
    )
    w.fix = make_change(w.failing, w.recent, "FAIL", "PASS", snapshot=w.third)
    # root's T0 snapshot, superseded long ago, stays the passing finding's cause.
    w.root_cause = w.fixed.snapshot
    make_snapshot(
        w.root_account,
        {"AccountMFAEnabled": 1, "Alias": "acme"},
        at=w.new.started_at,
        scan=w.new,
    )
    w.gone = _gone_resource(w.payments, w.old, "gone-bucket")
    w.excepted = _gone_resource(w.payments, w.old, "excepted-bucket")
    Suppression.objects.create(
        organization=w.org,
        scope=Suppression.Scope.RESOURCE,
        control_id=CTL_S3,
        account=w.payments,
        resource=w.excepted,
        reason="Decommissioned; kept for the audit",
        approver="ciso@example.com",
        expires_at=now + timedelta(days=30),
    )
    w.lately_gone = make_resource(w.data, name="lately-gone", at=w.old.started_at)
    make_snapshot(w.lately_gone, {}, at=w.old.started_at, scan=w.old)
    _delete_resource(w.lately_gone, w.recent.started_at)
    return w


def _row_counts() -> dict[str, int]:
    models = (FindingChange, Snapshot, ScanUnit, Finding, Resource, ControlRollup)
    return {m.__name__: m.objects.count() for m in models}


def _scan_ids(rows) -> set[int]:
    return set(rows.values_list("scan_id", flat=True))


def _trends(w) -> dict[str, list]:
    accounts = Account.objects.all()
    return {
        "organization": dashboard.organization_trend(w.org, accounts, w.recent, 900),
        "account": dashboard.account_trend(w.payments, w.recent, 900),
        "control": dashboard.control_history(CTL_S3, accounts, 900).trend,
    }


# -- What goes and what stays ----------------------------------------------------------


def test_prune_removes_old_raw_history_and_keeps_the_rest(world):
    rollups = set(ControlRollup.objects.values_list("pk", flat=True))

    pruned = retention.prune()

    assert pruned == retention.Pruned(
        # Three in build_world's two scans, and gone's and excepted's.
        finding_changes=5,
        # bucket's first (its change went); gone's with the resource.
        snapshots=2,
        scan_units=7,
        findings=1,
        resources=1,
    )
    assert set(ControlRollup.objects.values_list("pk", flat=True)) == rollups
    assert list(FindingChange.objects.filter(finding__resource=world.bucket)) == [
        world.fix
    ]
    assert not FindingChange.objects.filter(at__lt=world.cut).exists()
    # Current snapshots stay, however old (lake's and root's are from T0) ...
    for resource in (world.lake, world.root_account, world.bucket):
        resource.refresh_from_db()
        assert resource.current_snapshot is not None
    # ... and so do superseded ones a finding still names as its cause.
    bucket_snapshots = set(world.bucket.snapshots.values_list("pk", flat=True))
    assert bucket_snapshots == {world.second.pk, world.third.pk}
    assert world.root_account.snapshots.filter(pk=world.root_cause.pk).exists()
    # Units of old scans go; the scans themselves stay for their rollups.
    assert set(ScanUnit.objects.values_list("scan_id", flat=True)) == {world.recent.pk}
    assert Scan.objects.filter(pk__in=[world.old.pk, world.new.pk]).count() == 2


def test_deleted_resources_go_after_the_retention_period_with_their_rows(world):
    retention.prune()

    assert not Resource.objects.filter(pk=world.gone.pk).exists()
    assert not Finding.objects.filter(resource_id=world.gone.pk).exists()
    assert not Snapshot.objects.filter(resource_id=world.gone.pk).exists()
    # Named by an exception (never deleted): kept, with its finding and
    # snapshot; its old status change went with everyone's.
    assert Finding.objects.filter(resource=world.excepted).count() == 1
    assert world.excepted.snapshots.count() == 1
    # Deleted within the period: kept.
    assert world.lately_gone.snapshots.count() == 1


def test_trends_are_identical_before_and_after_pruning(world):
    before = _trends(world)
    assert len(before["organization"]) == 3  # three scan days

    retention.prune()

    assert _trends(world) == before


def test_nothing_of_a_running_or_current_scan_is_pruned(world):
    """An organization not scanned for long still shows its last scan's
    coverage and changes, and a scan stuck running keeps its units."""
    org = make_org("Stale")
    account = make_account(org, "stale-account")
    earlier = make_scan(org, at=T0)
    current = make_scan(org, at=T0 + timedelta(days=1))
    running = make_scan(org, at=T0 - timedelta(days=5), status=Scan.Status.RUNNING)
    finding = make_finding(make_resource(account), CTL_S3, "FAIL")
    for scan in (earlier, current, running):
        make_unit(scan, account)
        make_change(finding, scan, "", "FAIL")

    retention.prune()

    kept = {current.pk, running.pk}
    assert _scan_ids(ScanUnit.objects.filter(account=account)) == kept
    assert _scan_ids(FindingChange.objects.filter(finding=finding)) == kept


def test_retention_zero_keeps_everything(world, settings):
    settings.PARAPET_RETENTION_DAYS = 0
    before = _row_counts()

    assert retention.prune() == retention.Pruned()
    assert _row_counts() == before


# -- How it runs --------------------------------------------------------------------


def test_second_run_finds_nothing_to_prune(world):
    first = retention.prune()
    after_first = _row_counts()

    assert first.total > 0
    assert retention.prune() == retention.Pruned()
    assert _row_counts() == after_first


def test_dry_run_counts_exactly_what_a_real_run_deletes_and_deletes_nothing(world):
    before = _row_counts()

    planned = retention.prune(dry_run=True)

    assert _row_counts() == before
    assert retention.prune() == planned


def test_deletes_run_in_batches_of_the_given_size_each_in_its_own_transaction(
    world,
):
    # 24 old changes: five batches of five, the last one short.
    for n in range(19):
        finding = make_finding(world.bucket, f"{CTL_S3}-{n}", at=world.old.started_at)
        make_change(finding, world.old, "", "FAIL")

    with CaptureQueriesContext(connection) as captured:
        pruned = retention.prune(batch_size=5)

    sql = [q["sql"] for q in captured.captured_queries]
    deletes = [
        i
        for i, s in enumerate(sql)
        if s.startswith('DELETE FROM "findings_findingchange"')
    ]
    # Five age-based batches, then the one with gone-bucket (nothing left).
    assert len(deletes) == 6
    assert pruned.finding_changes == 24
    # Each batch is its own (here: nested) transaction.
    assert all(sql[i - 1].startswith("SAVEPOINT") for i in deletes[:5])
    assert all(" LIMIT 5" in sql[i] for i in deletes[:5])


# -- Setting and command ------------------------------------------------------------


def _import_settings(value: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PARAPET_RETENTION_DAYS": value}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import config.settings as s; print(s.PARAPET_RETENTION_DAYS)",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("value", ["7", "29", "-1", "forever"])
def test_a_retention_shorter_than_30_days_stops_startup_naming_the_variable(value):
    result = _import_settings(value)
    assert result.returncode != 0
    assert "PARAPET_RETENTION_DAYS" in result.stderr


@pytest.mark.parametrize("value", ["0", "30", "730"])
def test_zero_or_30_days_and_more_are_accepted(value):
    result = _import_settings(value)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == value


def test_command_dry_run_prints_counts_and_deletes_nothing(world):
    before = _row_counts()
    out = StringIO()

    call_command("prune_history", "--dry-run", stdout=out)

    assert _row_counts() == before
    text = out.getvalue()
    assert f"Would prune raw history before {world.cut:%Y-%m-%d}" in text
    assert "status changes" in text and "Nothing deleted (--dry-run)." in text


def test_command_prunes_with_the_days_given(world):
    out = StringIO()

    call_command("prune_history", "--days", "30", stdout=out)

    assert "Pruned raw history" in out.getvalue()
    assert "scan units" in out.getvalue()
    assert not Resource.objects.filter(pk=world.gone.pk).exists()


def test_command_refuses_a_period_shorter_than_30_days(world):
    before = _row_counts()
    with pytest.raises(CommandError, match="at least 30"):
        call_command("prune_history", "--days", "7")
    assert _row_counts() == before


def test_beat_runs_the_task_daily_at_0330_utc(beat_entries):
    from django_celery_beat.models import PeriodicTask

    from findings.tasks import prune_history

    task = PeriodicTask.objects.get(task="findings.prune_history")
    assert (task.crontab.minute, task.crontab.hour, str(task.crontab.timezone)) == (
        "30",
        "3",
        "UTC",
    )
    assert task.enabled
    assert prune_history.name == task.task


# -- The resource page after pruning ------------------------------------------------


def test_resource_page_says_older_history_was_pruned(
    client, world, django_assert_max_num_queries
):
    retention.prune()
    client.force_login(world.alice)

    with django_assert_max_num_queries(9):
        response = client.get(reverse("findings:resource", args=[world.bucket.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert f"older history was pruned by retention after {DAYS} days" in html
    assert "First collected." not in html
    assert f"Older history pruned after {DAYS} days" in html
    assert html.count("became <span") == 1  # the recent fix only


def test_resource_whose_changes_were_all_pruned_says_from_when_they_are_kept(
    client, world
):
    retention.prune()
    client.force_login(world.alice)

    url = reverse("findings:resource", args=[world.root_account.pk])
    html = client.get(url).content.decode()

    assert "No status changes recorded." in html
    kept_from = f"{world.cut:%b} {world.cut.day}, {world.cut.year}"
    assert f"status changes before {kept_from} are no longer kept" in html


def test_revived_resource_change_says_its_previous_snapshot_was_pruned(client, world):
    """Deleted long ago, collected again lately: the snapshot before the new
    one was pruned, which the page says instead of "First collected"."""
    _delete_resource(world.lake, world.new.started_at)
    Resource.objects.filter(pk=world.lake.pk).update(deleted_at=None)
    revived = make_snapshot(
        world.lake,
        {"PublicAccessBlock": {}},
        at=world.recent.started_at,
        scan=world.recent,
    )
    finding = Finding.objects.get(resource=world.lake)
    # As the engine records a change: the finding's cause moves too.
    Finding.objects.filter(pk=finding.pk).update(status="ERROR", snapshot=revived)
    make_change(finding, world.recent, "FAIL", "ERROR", snapshot=revived)
    retention.prune()
    client.force_login(world.bob)

    response = client.get(reverse("findings:resource", args=[world.lake.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "the snapshot before it was pruned by retention" in html
    assert "First collected" not in html


def test_resource_page_of_a_young_resource_mentions_no_pruning(client, world):
    young = make_resource(world.payments, name="young", at=world.recent.started_at)
    make_snapshot(young, {}, at=world.recent.started_at, scan=world.recent)
    retention.prune()
    client.force_login(world.alice)

    html = client.get(reverse("findings:resource", args=[young.pk])).content.decode()

    assert "First collected." in html
    assert "pruned" not in html


def test_resource_page_of_another_team_stays_404_after_pruning(client, world):
    retention.prune()
    client.force_login(world.bob)
    response = client.get(reverse("findings:resource", args=[world.bucket.pk]))
    assert response.status_code == 404
