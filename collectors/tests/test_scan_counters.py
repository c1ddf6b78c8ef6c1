"""Unit counters on the scan row (issue #5): written when a scan ends — finished,
cancelled, reaped — cleared while a resume runs it again, and read by the
scans page, the scan page and scans.csv in place of counting every unit.

Personas from build_world(): alice sees payments-prod only, root is staff.
"""

import csv
import io
import re
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from collectors import pipeline, recovery
from collectors.models import Scan, ScanUnit
from findings.tests.factories import (
    T0,
    build_world,
    make_scan,
    make_unit,
    make_user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    world = build_world()
    # As if both scans had ended through the pipeline.
    Scan.objects.filter(pk__in=[world.old.pk, world.new.pk]).count_units()
    return world


def html_of(client, user, url: str) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def units_cell(ok: int, total: int) -> str:
    """The scans page's "Units collected" cell."""
    return f'{ok}<span class="muted"> / {total}</span>'


def unit_kpis(html: str) -> dict[str, tuple[str, str]]:
    """The scan page's unit cards: label -> (value, note under it)."""
    cards = re.findall(
        r'<span class="kpi-label">([^<]+)</span><span class="kpi-value[^"]*">'
        r'([^<]+)</span>\s*<span class="small muted">([^<]+)</span>',
        html,
    )
    return {label: (value, note) for label, value, note in cards}


def counters(scan: Scan) -> dict[str, int]:
    scan.refresh_from_db()
    assert scan.counted_at is not None, "not counted"
    return scan.counters()


def actual(scan: Scan) -> dict[str, int]:
    """The counters as counted from the scan's units now."""
    statuses = Counter(scan.units.values_list("status", flat=True))
    sums = scan.units.aggregate(api_calls=Sum("api_calls"), resources=Sum("resources"))
    return {
        "total": sum(statuses.values()),
        "ok": statuses["ok"],
        "failed": statuses["failed"],
        "skipped": statuses["skipped"],
        "resumable": scan.units.filter(recovery.RESUMABLE_UNITS).count(),
        "api_calls": sums["api_calls"] or 0,
        "resources": sums["resources"] or 0,
    }


# -- Written when a scan ends ------------------------------------------------------


def test_a_scan_with_gaps_is_counted_when_it_finishes(
    client, moto_org, run_scan, faults
):
    prod = moto_org.member_ids[0]
    faults.deny(prod, "s3", "ListBuckets")
    scan = run_scan(moto_org, services=["s3", "iam"])

    assert scan.status == Scan.Status.PARTIAL
    counted = counters(scan)
    assert counted == actual(scan)
    assert counted["failed"] == counted["resumable"] == 1
    assert counted["ok"] == counted["total"] - 1 and counted["api_calls"] > 0

    root = make_user("root", staff=True)
    html = html_of(client, root, reverse("collectors:scans"))
    assert units_cell(counted["ok"], counted["total"]) in html
    assert f'?status=failed">{counted["failed"]}</a>' in html
    cards = unit_kpis(html_of(client, root, scan.get_absolute_url()))
    assert cards["Units collected"] == (str(counted["ok"]), f"of {counted['total']}")
    assert cards["Units failed"] == ("1", "0 skipped")


def test_counts_outlive_the_units_retention_prunes(client, world):
    """The scans page reads the counters: a scan whose units were pruned
    still shows what it collected (the units table itself is empty)."""
    ScanUnit.objects.filter(scan=world.old).delete()  # as findings.retention does

    html = html_of(client, world.root, reverse("collectors:scans"))
    assert units_cell(3, 3) in html  # the old scan
    assert units_cell(3, 4) in html  # the new one, with its failed unit
    cards = unit_kpis(html_of(client, world.root, world.old.get_absolute_url()))
    assert cards["Units collected"] == ("3", "of 3")
    assert cards["API calls"] == ("120", "9 resources")


def test_a_user_who_sees_some_accounts_gets_only_their_units(client, world):
    """Counters cover every account: alice, who sees payments-prod only,
    gets her own units counted, on the pages and in scans.csv."""
    html = html_of(client, world.alice, reverse("collectors:scans"))
    assert units_cell(2, 2) in html and units_cell(3, 4) not in html
    cards = unit_kpis(html_of(client, world.alice, world.new.get_absolute_url()))
    assert cards["Units collected"] == ("2", "of 2")
    assert cards["Units failed"] == ("0", "0 skipped")

    client.force_login(world.alice)
    body = b"".join(client.get(reverse("findings:scans_csv")).streaming_content)
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [(r["units_total"], r["units_failed"]) for r in rows] == [
        ("2", "0"),
        ("2", "0"),
    ]
    client.force_login(world.root)
    body = b"".join(client.get(reverse("findings:scans_csv")).streaming_content)
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [(r["units_total"], r["units_failed"]) for r in rows] == [
        ("4", "1"),
        ("3", "0"),
    ]


# -- Cancel, the reaper, resume ----------------------------------------------------


def running_scan(world) -> tuple[Scan, ScanUnit]:
    """A scan collecting: one unit done, one being collected, two queued."""
    scan = make_scan(world.org, at=T0 + timedelta(days=2), status="running")
    Scan.objects.filter(pk=scan.pk).update(finished_at=None)
    make_unit(scan, world.payments, service="s3")
    busy = make_unit(scan, world.data, service="s3", status="running")
    ScanUnit.objects.filter(pk=busy.pk).update(heartbeat_at=timezone.now(), attempts=1)
    make_unit(scan, world.payments, service="iam", region="global", status="pending")
    make_unit(scan, world.data, service="iam", region="global", status="pending")
    return scan, busy


def test_cancel_counts_the_units_and_those_ending_later(client, world):
    scan, busy = running_scan(world)

    assert pipeline.cancel_scan(scan.pk, by="carol")

    counted = counters(scan)
    assert (counted["total"], counted["ok"], counted["skipped"]) == (4, 1, 2)
    assert counted["resumable"] == 2  # skipped by the cancel, not on purpose
    cards = unit_kpis(html_of(client, world.root, scan.get_absolute_url()))
    assert cards["Units collected"] == ("1", "of 4")

    # The unit being collected ends (its worker records it), then the chord's
    # callback runs: it does not evaluate a cancelled scan, but counts it.
    ScanUnit.objects.filter(pk=busy.pk).update(status="ok")
    pipeline.finish_scan(scan.pk)

    assert counters(scan) == actual(scan)
    assert counters(scan)["ok"] == 2
    html = html_of(client, world.root, reverse("collectors:scans"))
    assert units_cell(2, 4) in html


def test_the_reaper_counts_a_cancelled_scans_silent_unit(world):
    scan, busy = running_scan(world)
    pipeline.cancel_scan(scan.pk, by="carol")
    ScanUnit.objects.filter(pk=busy.pk).update(
        heartbeat_at=timezone.now() - timedelta(hours=1)
    )

    assert recovery.reap_stuck_units().units_failed == 1

    counted = counters(scan)
    assert counted == actual(scan)
    assert (counted["ok"], counted["failed"], counted["skipped"]) == (1, 1, 2)


def test_resume_counts_live_until_the_scan_ends_again(
    client, world, monkeypatch, django_capture_on_commit_callbacks
):
    scan = world.new  # PARTIAL: data-lake's EC2 unit failed
    gap = scan.units.get(status="failed")
    collected = []
    monkeypatch.setattr(pipeline, "run_unit", lambda pk, **kw: collected.append(pk))

    with django_capture_on_commit_callbacks(execute=True):
        recovery.resume_scan(scan.pk, by="carol")

    scan.refresh_from_db()
    assert scan.status == Scan.Status.RUNNING and scan.counted_at is None
    html = html_of(client, world.root, scan.get_absolute_url())
    assert "<strong>3</strong> of 4 units done" in html
    assert unit_kpis(html)["Units failed"] == ("0", "0 skipped")

    # The unit is collected this time; the scan finishes and is counted anew.
    assert collected == [gap.pk]
    ScanUnit.objects.filter(pk=gap.pk).update(status="ok", finished_at=timezone.now())
    pipeline.finish_scan(scan.pk)

    scan.refresh_from_db()
    assert scan.status == Scan.Status.FINISHED
    assert counters(scan) == {**actual(scan), "failed": 0, "resumable": 0}
    html = html_of(client, world.root, reverse("collectors:scans"))
    assert units_cell(4, 4) in html


# -- The migration counts the scans that had ended ---------------------------------


def scan_columns() -> set[str]:
    with connection.cursor() as cursor:
        table = connection.introspection.get_table_description(
            cursor, "collectors_scan"
        )
    return {column.name for column in table}


@pytest.mark.django_db(transaction=True)
def test_migration_counts_ended_scans_and_reverses():
    world = build_world()
    running = make_scan(world.org, at=T0 + timedelta(days=2), status="running")
    make_unit(running, world.payments, status="pending")

    def migrate(targets=None) -> None:
        executor = MigrationExecutor(connection)
        executor.migrate(targets or executor.loader.graph.leaf_nodes())

    migrate([("collectors", "0004_reap_stuck_units_schedule")])
    assert "counted_total" not in scan_columns()
    migrate()  # 0005 and whatever follows it

    old, new, running = (
        Scan.objects.get(pk=pk) for pk in (world.old.pk, world.new.pk, running.pk)
    )
    assert old.counted_at is not None and old.counters() == actual(old)
    assert new.counters() == actual(new)
    assert (new.counted_failed, new.counted_total) == (1, 4)
    assert running.counted_at is None  # counted when it ends
