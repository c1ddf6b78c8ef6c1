"""Operating scans: scan now, cancel, progress, schedules that never overlap.

Personas from build_world(): alice (member of Payments), root (staff), plus
carol (admin of Payments) and an outsider who admins a team of another
organization.
"""

import io
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from accounts.models import Membership
from collectors import pipeline, schedule, tasks
from collectors.models import Scan, ScanUnit
from collectors.pipeline import wait_for_scan
from findings.dashboard import latest_scan
from findings.tests.factories import (
    T0,
    build_world,
    make_account,
    make_org,
    make_scan,
    make_team,
    make_unit,
    make_user,
)

pytestmark = pytest.mark.django_db

ACTIVE = Scan.ACTIVE_STATUSES


def make_admin(username: str, team) -> object:
    user = make_user(username)
    Membership.objects.create(team=team, user=user, role=Membership.Role.ADMIN)
    return user


@pytest.fixture
def world():
    world = build_world()
    world.carol = make_admin("carol", world.payments.teams.get())
    other_org = make_org("Globex")
    other_team = make_team("Globex ops", accounts=[make_account(other_org)])
    world.outsider = make_admin("outsider", other_team)
    world.other_org = other_org
    # Small scans: one region, one service.
    world.org.regions, world.org.services = ["us-east-1"], ["s3"]
    world.org.save()
    return world


def post(client, user, name, *args, **data):
    client.force_login(user)
    return client.post(reverse(name, args=args), data)


def html_of(client, user, name, *args, query="", **headers) -> str:
    client.force_login(user)
    response = client.get(reverse(name, args=args) + query, headers=headers)
    assert response.status_code == 200
    return response.content.decode()


def running_scan(world, **fields) -> Scan:
    scan = make_scan(world.org, at=T0 + timedelta(days=2), status="running", **fields)
    Scan.objects.filter(pk=scan.pk).update(finished_at=None)
    scan.refresh_from_db()
    make_unit(scan, world.payments, service="s3")
    make_unit(scan, world.data, service="s3")
    ScanUnit.objects.create(
        scan=scan, account=world.payments, region="global", service="iam"
    )
    return scan


# -- Who may operate scans ------------------------------------------------------------


def test_scan_now_permissions(client, world):
    url_args = ("collectors:scan_now", world.org.pk)
    assert post(client, world.alice, *url_args).status_code == 403
    assert post(client, world.outsider, *url_args).status_code == 404
    assert not Scan.objects.filter(status__in=ACTIVE).exists()

    client.force_login(world.carol)
    assert (
        client.get(reverse("collectors:scan_now", args=[world.org.pk])).status_code
        == 405
    )
    response = post(client, world.carol, *url_args)
    scan = Scan.objects.get(status=Scan.Status.PENDING)
    assert response.status_code == 302 and response.url == scan.get_absolute_url()
    assert scan.requested_by == world.carol and scan.trigger == Scan.Trigger.MANUAL
    # Organization-wide, though carol's team holds one of its two accounts.
    assert set(scan.units.values_list("account_id", flat=True)) == {
        world.payments.pk,
        world.data.pk,
    }

    pipeline.cancel_scan(scan.pk, by="test")
    assert post(client, world.root, *url_args).status_code == 302
    assert Scan.objects.filter(status=Scan.Status.PENDING).count() == 1


def test_buttons_are_shown_only_to_those_who_may_use_them(client, world):
    scan = running_scan(world)
    for user in (world.alice, world.bob):
        html = html_of(client, user, "collectors:scans")
        assert "Acme" in html and "Scan now" not in html and "Schedule</a>" not in html
        assert "Cancel scan" not in html_of(client, user, "collectors:scan", scan.pk)
    assert "Cancel scan" in html_of(client, world.carol, "collectors:scan", scan.pk)
    pipeline.cancel_scan(scan.pk, by="test")
    html = html_of(client, world.carol, "collectors:scans")
    assert "Scan now" in html and "Schedule</a>" in html
    # The outsider sees Globex only, and may operate it.
    html = html_of(client, world.outsider, "collectors:scans")
    assert "Globex" in html and "Acme" not in html and "Scan now" in html


def test_cancel_and_schedule_permissions(client, world):
    scan = running_scan(world)
    assert post(client, world.alice, "collectors:cancel", scan.pk).status_code == 403
    assert post(client, world.outsider, "collectors:cancel", scan.pk).status_code == 404
    scan.refresh_from_db()
    assert scan.status == Scan.Status.RUNNING

    for user, status in [(world.alice, 403), (world.outsider, 404)]:
        client.force_login(user)
        url = reverse("collectors:schedule", args=[world.org.pk])
        assert client.get(url).status_code == status
        assert client.post(url, {"cron": "* * * * *"}).status_code == status
    assert schedule.cron_expression(schedule.schedule_of(world.org).crontab) == (
        "0 2 * * *"
    )


# -- Scan now -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_scan_now_creates_and_runs_a_scan(client, moto_org):
    """Without a broker the scan runs on a thread: the request answers at once."""
    moto_org.services = ["s3"]
    moto_org.save()
    root = make_user("root", staff=True)
    client.force_login(root)
    response = client.post(reverse("collectors:scan_now", args=[moto_org.pk]))

    scan = Scan.objects.get()
    assert response.url == scan.get_absolute_url()
    scan = wait_for_scan(scan, timeout=120, poll=0.2)
    assert scan.status == Scan.Status.FINISHED
    assert scan.units.filter(status=ScanUnit.Status.OK).count() == 3
    html = client.get(response.url).content.decode()
    assert f"Scan #{scan.pk} of Test org started." in html
    assert "Finished" in html and 'hx-trigger="every 2s"' not in html


def test_scan_now_is_refused_while_a_scan_runs(client, world):
    scan = running_scan(world)
    response = post(
        client,
        world.carol,
        "collectors:scan_now",
        world.org.pk,
        next="https://evil.example.com/",
    )
    assert response.status_code == 302
    assert response.url == reverse("collectors:scans")  # not the foreign next
    assert Scan.objects.filter(organization=world.org).count() == 3
    html = client.get(response.url).content.decode()
    assert f"Not started: Scan #{scan.pk} of Acme is still collecting." in html

    # With htmx the browser is told where to go, instead of a redirect.
    client.force_login(world.carol)
    response = client.post(
        reverse("collectors:scan_now", args=[world.org.pk]),
        {"next": reverse("collectors:schedule", args=[world.org.pk])},
        headers={"HX-Request": "true"},
    )
    assert response["HX-Redirect"] == reverse(
        "collectors:schedule", args=[world.org.pk]
    )


def test_scan_now_explains_an_organization_without_accounts(client, world):
    empty = make_org("Empty")
    response = post(client, world.root, "collectors:scan_now", empty.pk)
    html = client.get(response.url).content.decode()
    assert "Not started: Empty has no enabled, active accounts to scan." in html


# -- Cancel ---------------------------------------------------------------------------


def test_cancel_skips_pending_units_and_is_never_evaluated(client, world, monkeypatch):
    scan = pipeline.plan_scan(world.org)  # planned, not run (never committed)
    first = scan.units.first()
    ScanUnit.objects.filter(pk=first.pk).update(status=ScanUnit.Status.OK)

    response = post(client, world.carol, "collectors:cancel", scan.pk)
    assert response.url == scan.get_absolute_url()
    scan.refresh_from_db()
    assert scan.status == Scan.Status.CANCELLED and scan.finished_at
    assert scan.message.startswith("Cancelled by carol at ")
    statuses = dict(scan.units.values_list("pk", "status"))
    assert statuses.pop(first.pk) == ScanUnit.Status.OK
    assert set(statuses.values()) == {ScanUnit.Status.SKIPPED}

    def no_aws(*args, **kwargs):
        raise AssertionError("a unit of a cancelled scan called AWS")

    def no_evaluation(*args, **kwargs):
        raise AssertionError("a cancelled scan was evaluated")

    monkeypatch.setattr(pipeline, "member_session", no_aws)
    monkeypatch.setattr("findings.engine.evaluate_scan", no_evaluation)
    pipeline.start_scan(scan.pk)  # queued before the cancel
    for pk in statuses:
        assert pipeline.run_unit(pk).startswith("skipped")
    pipeline.finish_scan(scan.pk)
    scan.refresh_from_db()
    assert scan.status == Scan.Status.CANCELLED

    html = html_of(client, world.root, "collectors:scan", scan.pk)
    assert (
        "Cancelled by carol" in html
        and "Not collected: the scan was cancelled." in html
    )
    assert "Cancel scan" not in html
    # Never the dashboard's "now", and the next scan may start.
    assert latest_scan(world.org) == world.new
    assert (
        post(client, world.carol, "collectors:scan_now", world.org.pk).status_code
        == 302
    )
    assert Scan.objects.filter(status=Scan.Status.PENDING).count() == 1


def test_a_redelivered_unit_of_a_cancelled_scan_is_skipped(world, monkeypatch):
    scan = running_scan(world)
    stale = ScanUnit.objects.get(scan=scan, service="iam")
    ScanUnit.objects.filter(pk=stale.pk).update(
        status=ScanUnit.Status.RUNNING, heartbeat_at=T0
    )
    Scan.objects.filter(pk=scan.pk).update(status=Scan.Status.CANCELLED)
    monkeypatch.setattr(pipeline, "member_session", pytest.fail)

    assert pipeline.run_unit(stale.pk) == "skipped: scan cancelled"
    stale.refresh_from_db()
    assert stale.status == ScanUnit.Status.SKIPPED


def test_cancel_a_finished_scan_changes_nothing(client, world):
    response = post(client, world.root, "collectors:cancel", world.new.pk)
    world.new.refresh_from_db()
    assert world.new.status == Scan.Status.PARTIAL
    html = client.get(response.url).content.decode()
    assert "had already ended (finished with gaps): nothing to cancel" in html


def test_cancel_from_the_command_line(world):
    scan = running_scan(world)
    out = io.StringIO()
    call_command("scan", cancel=scan.pk, stdout=out)
    assert f"Scan #{scan.pk} cancelled" in out.getvalue()
    scan.refresh_from_db()
    assert scan.status == Scan.Status.CANCELLED
    assert scan.message.startswith("Cancelled by the command line")
    with pytest.raises(CommandError, match="had already ended"):
        call_command("scan", cancel=scan.pk)


def test_cli_scan_is_refused_while_one_runs(world):
    scan = running_scan(world)
    with pytest.raises(CommandError, match=f"cancel it with --cancel {scan.pk}"):
        call_command("scan", organization="Acme")


# -- Progress -------------------------------------------------------------------------


def test_progress_is_polled_until_the_scan_is_done(client, world):
    scan = running_scan(world)
    html = html_of(client, world.root, "collectors:scan", scan.pk)
    assert 'id="scan-progress"' in html and 'hx-trigger="every 2s"' in html
    assert "2</strong> of 3 units done" in html

    headers = {"HX-Request": "true", "HX-Target": "scan-progress"}
    partial = html_of(client, world.root, "collectors:scan", scan.pk, **headers)
    assert "<html" not in partial
    assert "2</strong> of 3 units done" in partial and 'max="3" value="2"' in partial
    # The status badge and the units table follow out of band, as filtered.
    badge = '<span id="scan-status" class="badge badge-info" hx-swap-oob="true">'
    assert badge + "Collecting" in partial
    assert '<div id="units" hx-indicator="#units" hx-swap-oob="true">' in partial
    assert partial.count("<tr") == 4  # header + 3 units
    filtered = client.get(
        reverse("collectors:scan", args=[scan.pk]) + "?status=ok", headers=headers
    ).content.decode()
    assert filtered.count("<tr") == 3  # header + the 2 collected units
    # alice sees her account's units only.
    partial = html_of(client, world.alice, "collectors:scan", scan.pk, **headers)
    assert "1</strong> of 2 units done" in partial

    ScanUnit.objects.filter(scan=scan).update(status=ScanUnit.Status.OK)
    Scan.objects.filter(pk=scan.pk).update(status=Scan.Status.FINISHED)
    client.force_login(world.root)
    response = client.get(reverse("collectors:scan", args=[scan.pk]), headers=headers)
    assert response["HX-Refresh"] == "true"  # reload once; the page then stops polling
    assert 'hx-trigger="every' not in html_of(
        client, world.root, "collectors:scan", scan.pk
    )


def test_scans_page_shows_progress_of_a_running_scan(client, world):
    scan = running_scan(world)
    html = html_of(client, world.root, "collectors:scans")
    assert f'href="{scan.get_absolute_url()}">#{scan.pk}</a>' in html
    assert "2 / 3 units" in html and "View progress" in html


# -- Schedules ------------------------------------------------------------------------


def test_every_organization_gets_a_daily_schedule(world):
    org = make_org("Initech")
    task = PeriodicTask.objects.get(name=schedule.task_name(org.pk))
    assert task.task == "collectors.scheduled_scan" and task.enabled
    assert json.loads(task.kwargs) == {"organization_id": org.pk}
    assert schedule.cron_expression(task.crontab) == "0 2 * * *"
    assert str(task.crontab.timezone) == "UTC"
    org_pk = org.pk
    org.delete()
    assert not PeriodicTask.objects.filter(name=schedule.task_name(org_pk)).exists()


def test_next_run_follows_the_cron_expression_and_zone(world):
    at = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
    task = schedule.schedule_of(world.org)
    assert schedule.next_run(task, now=at) == datetime(2025, 3, 2, 2, 0, tzinfo=UTC)
    task = schedule.save_schedule(
        world.org, "30 6 * * mon-fri", "Europe/Berlin", enabled=True
    )
    # Saturday 06:00 UTC -> Monday 06:30 in Berlin (UTC+1 in March).
    assert schedule.next_run(task, now=at) == datetime(2025, 3, 3, 5, 30, tzinfo=UTC)
    task = schedule.save_schedule(world.org, "30 6 * * mon-fri", "UTC", enabled=False)
    assert schedule.next_run(task, now=at) is None


def test_schedule_page_saves_and_errors_keep_input(client, world):
    url = reverse("collectors:schedule", args=[world.org.pk])
    client.force_login(world.carol)
    html = client.get(url).content.decode()
    assert 'value="0 2 * * *"' in html and "At 02:00 AM UTC" in html

    bad = client.post(url, {"cron": "0 25 * *", "timezone": "UTC", "enabled": "on"})
    assert bad.status_code == 200
    html = bad.content.decode()
    assert "A cron expression has 5 fields" in html and "This one has 4." in html
    assert 'value="0 25 * *"' in html and 'aria-invalid="true"' in html
    bad = client.post(url, {"cron": "0 25 * * *", "timezone": "Europe/Paris"})
    html = bad.content.decode()
    assert "the hour “25” is not valid" in html
    assert 'value="0 25 * * *"' in html
    assert '<option value="Europe/Paris" selected>' in html
    bad = client.post(url, {"cron": "0 2 31 2 *", "timezone": "UTC"})
    assert "This schedule cannot run" in bad.content.decode()
    assert schedule.cron_expression(schedule.schedule_of(world.org).crontab) == (
        "0 2 * * *"
    )

    saved = client.post(
        url, {"cron": " 30  6 * * mon-fri ", "timezone": "Europe/Paris", "enabled": ""}
    )
    assert saved.status_code == 302
    task = schedule.schedule_of(world.org)
    assert schedule.cron_expression(task.crontab) == "30 6 * * mon-fri"
    assert str(task.crontab.timezone) == "Europe/Paris" and not task.enabled
    html = client.get(url).content.decode()
    assert "scheduled scans are off" in html
    # Other organizations keep their own schedule (crontab rows are shared).
    other = schedule.schedule_of(world.other_org)
    assert schedule.cron_expression(other.crontab) == "0 2 * * *"


def test_scans_page_shows_the_next_scheduled_scan(client, world):
    html = html_of(client, world.alice, "collectors:scans")
    assert "At 02:00 AM UTC" in html
    next_run = schedule.next_run(schedule.schedule_of(world.org))
    assert f'datetime="{next_run.isoformat()}"' in html


# -- Never overlap --------------------------------------------------------------------


def test_scheduled_scan_is_skipped_and_recorded_while_one_runs(client, world):
    scan = running_scan(world)
    result = tasks.scheduled_scan(world.org.pk)

    assert result == f"skipped: scan #{scan.pk} still active"
    skip = Scan.objects.get(status=Scan.Status.SKIPPED)
    assert skip.trigger == Scan.Trigger.SCHEDULED and not skip.units.exists()
    assert skip.message == f"Scan #{scan.pk} was still running (collecting)."
    assert Scan.objects.filter(status__in=ACTIVE).get() == scan

    html = html_of(client, world.alice, "collectors:scans")
    assert "Skipped" in html and f"Scan #{scan.pk} was still running" in html
    html = html_of(client, world.carol, "collectors:schedule", world.org.pk)
    assert f"Scan #{scan.pk} was still running" in html
    assert "Nothing was collected" in html_of(
        client, world.alice, "collectors:scan", skip.pk
    )
    assert latest_scan(world.org) == world.new


def test_scheduled_scan_starts_when_idle(
    world, monkeypatch, django_capture_on_commit_callbacks
):
    started = []
    monkeypatch.setattr(pipeline, "start_scan", started.append)
    with django_capture_on_commit_callbacks(execute=True):
        result = tasks.scheduled_scan(world.org.pk)
    scan = Scan.objects.get(status=Scan.Status.PENDING)
    assert result == f"started scan #{scan.pk}" and started == [scan.pk]
    assert scan.trigger == Scan.Trigger.SCHEDULED
    assert tasks.scheduled_scan(987654) == "not started: no such organization"


@pytest.mark.django_db(transaction=True)
def test_two_scheduled_starts_at_once_start_exactly_one_scan(monkeypatch):
    world = build_world()
    world.org.regions, world.org.services = ["us-east-1"], ["s3"]
    world.org.save()
    started = []
    monkeypatch.setattr(pipeline, "start_scan", started.append)
    barrier = threading.Barrier(2)
    results = []

    def fire() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(tasks.scheduled_scan(world.org.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=fire) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(r.split(" ")[0] for r in results) == ["skipped:", "started"]
    active = Scan.objects.get(organization=world.org, status__in=ACTIVE)
    assert started == [active.pk]
    assert Scan.objects.filter(status=Scan.Status.SKIPPED).count() == 1


def test_the_database_refuses_a_second_active_scan(world):
    running_scan(world)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_scan(world.org, status=Scan.Status.PENDING)


# -- Query counts ---------------------------------------------------------------------


@pytest.fixture
def busy_world(world):
    """Several organizations, accounts, scans and units: an N+1 would show."""
    for n in range(3):
        org = make_org(f"Org {n}")
        accounts = [make_account(org) for _ in range(3)]
        make_team(f"Team {n}", members=[world.alice], accounts=accounts[:1])
        for day in range(6):
            scan = make_scan(org, at=T0 + timedelta(days=day))
            for account in accounts:
                make_unit(scan, account, service="s3")
                make_unit(scan, account, service="iam", region="global")
        running = make_scan(org, at=T0 + timedelta(days=9), status="running")
        for account in accounts:
            make_unit(running, account, service="ec2", status=ScanUnit.Status.RUNNING)
        schedule.run_scheduled_scan(org.pk)  # a skip
    return world


@pytest.mark.parametrize("who", ["alice", "carol", "root"])
def test_scans_page_query_count(client, busy_world, who, django_assert_max_num_queries):
    client.force_login(getattr(busy_world, who))
    with django_assert_max_num_queries(9):
        response = client.get(reverse("collectors:scans"))
    assert response.status_code == 200
    # One progress bar per visible organization with a scan in progress.
    expected = {"alice": 3, "carol": 0, "root": 3}[who]
    assert response.content.decode().count("<progress") == expected


@pytest.mark.parametrize("who", ["alice", "root"])
def test_scan_page_query_count(client, busy_world, who, django_assert_max_num_queries):
    scan = Scan.objects.filter(status="running").first()
    client.force_login(getattr(busy_world, who))
    url = reverse("collectors:scan", args=[scan.pk])
    # The units table: the accounts' order, the walk through them, the rows.
    with django_assert_max_num_queries(10):
        assert client.get(url).status_code == 200
    with django_assert_max_num_queries(10):  # progress, badge and units table
        response = client.get(
            url, headers={"HX-Request": "true", "HX-Target": "scan-progress"}
        )
    assert "units done" in response.content.decode()


def test_schedule_page_query_count(client, busy_world, django_assert_max_num_queries):
    client.force_login(busy_world.root)
    url = reverse("collectors:schedule", args=[busy_world.org.pk])
    with django_assert_max_num_queries(8):
        assert client.get(url).status_code == 200
