"""Fault matrix, AWS side (issue #6): throttling, denials, expiring credentials,
disabled regions, an unreachable endpoint and duplicate deliveries.

Each test scans a small simulated organization (two member accounts x two
regions x s3, iam, ec2) with a real Celery worker over real Redis and
Postgres, while ``FaultProxy`` breaks the AWS answers it relays. Every test
ends with the scan finished or visibly partial, nothing lost, no finding
turned PASS by a fault, and each gap listed on the scan page with its kind.
"""

import re
import time
from collections import Counter

import pytest
from botocore.exceptions import ReadTimeoutError
from django.contrib.auth import get_user_model
from django.db.models import Q, Sum
from django.utils.html import strip_tags

from accounts.aws import assume_role, forget_credentials
from accounts.aws_errors import classify
from collectors import pipeline, tasks
from collectors.models import Resource, Scan, ScanUnit, Snapshot
from collectors.tests.harness import (
    CeleryWorker,
    FaultProxy,
    Rule,
    SimulatedOrg,
    redis_or_skip,
    register_organization,
    run_scan,
    seed_small_org,
    use_broker,
    worker_database_url,
)
from demo.simulator import start_moto_server, use_endpoint
from findings.models import ControlRollup, Finding, FindingChange

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Enough attempts that a 30% storm rarely exhausts them; short timeouts so a
# dead endpoint fails a unit in seconds.
WORKER_ENV = {"PARAPET_AWS_MAX_ATTEMPTS": "4", "PARAPET_AWS_TIMEOUT_SECONDS": "5"}


# -- Fixtures: one simulated AWS, proxy and worker per module ---------------------


@pytest.fixture(scope="module")
def simulated_aws():
    server, endpoint = start_moto_server(0)
    with use_endpoint(endpoint):
        forget_credentials()
        yield endpoint
    server.stop()
    forget_credentials()


@pytest.fixture(scope="module")
def proxy(simulated_aws):
    with FaultProxy(simulated_aws) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def worker(proxy, django_db_setup):
    redis_or_skip()
    with CeleryWorker(
        aws_endpoint=proxy.url,
        database_url=worker_database_url(),
        concurrency=4,
        env=WORKER_ENV,
        name="faults-aws-worker",
    ) as worker:
        yield worker


@pytest.fixture(scope="module")
def simulated_org(worker, simulated_aws) -> SimulatedOrg:
    # After the worker: it boots while moto is seeded.
    return seed_small_org(simulated_aws)


@pytest.fixture
def org(worker, simulated_org, proxy):
    proxy.reset()
    with use_broker(worker):
        yield register_organization(simulated_org)


@pytest.fixture
def lead(client):
    """A staff user signed in: sees every unit of every scan."""
    user = get_user_model().objects.create_user(
        "lead", password="a-long-test-password", is_staff=True
    )
    client.force_login(user)
    return client


# -- What a user would check after a fault -----------------------------------------


def finding_statuses() -> dict[tuple[int, str], str]:
    return {
        (f.resource_id, f.control_id): f.status
        for f in Finding.objects.only("resource_id", "control_id", "status")
    }


def gap_units(scan: Scan) -> list[ScanUnit]:
    return list(scan.units.exclude(status=ScanUnit.Status.OK).select_related("account"))


def resources_of(units: list[ScanUnit]) -> set[int]:
    query = Q(pk__in=[])
    for unit in units:
        query |= Q(account=unit.account, service=unit.service, unit_region=unit.region)
    return set(Resource.objects.filter(query).values_list("pk", flat=True))


def assert_nothing_lost_and_no_false_pass(
    before: dict[tuple[int, str], str], scan: Scan
) -> None:
    """Findings of uncollected units keep their status and count as unknown;
    the others may only stay as they were or become ERROR (unknown); nothing
    disappears, nothing is marked deleted."""
    after = finding_statuses()
    assert after.keys() == before.keys()
    assert not Resource.objects.filter(deleted_at__isnull=False).exists()
    gaps = resources_of(gap_units(scan))
    for key, status in before.items():
        if key[0] in gaps:
            assert after[key] == status, key
        else:
            assert after[key] in (status, "ERROR"), (key, status, after[key])
    assert not FindingChange.objects.filter(
        scan=scan, finding__resource_id__in=gaps
    ).exists()
    unknown = dict(
        ControlRollup.objects.filter(scan=scan, unknown__gt=0)
        .values_list("account__account_id")
        .annotate(n=Sum("unknown"))
    )
    expected = dict(
        Counter(
            account_id
            for account_id in Finding.objects.filter(resource_id__in=gaps).values_list(
                "account__account_id", flat=True
            )
        )
    )
    assert unknown == expected


def shown_units(client, scan: Scan, status: str) -> set[tuple[str, str, str, str]]:
    """(account id, region, service, error kind) of the rows the scan page
    lists under the ``status`` filter."""
    page = client.get(f"{scan.get_absolute_url()}?status={status}")
    assert page.status_code == 200
    body = page.content.decode().split("<tbody>", 1)[-1].split("</tbody>", 1)[0]
    rows = set()
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        kind = re.search(r"<strong>(.*?)</strong>", cells[4])
        rows.add(
            (
                re.search(r"\d{12}", cells[0]).group(),
                strip_tags(cells[1]).strip(),
                strip_tags(cells[2]).strip(),
                kind.group(1) if kind else "",
            )
        )
    return rows


def expected_rows(units: list[ScanUnit]) -> set[tuple[str, str, str, str]]:
    return {
        (u.account.account_id, u.region, u.service, u.get_error_kind_display())
        for u in units
    }


def baseline(org) -> dict[tuple[int, str], str]:
    """A clean scan first, so a fault has earlier findings to leave alone."""
    scan = run_scan(org)
    assert scan.status == Scan.Status.FINISHED, scan.message
    statuses = finding_statuses()
    assert "PASS" in statuses.values() and "FAIL" in statuses.values()
    return statuses


def members(org) -> list[str]:
    return sorted(
        org.accounts.filter(enabled=True).values_list("account_id", flat=True)
    )


# -- (1) Throttling storm ------------------------------------------------------------


def test_throttling_storm_completes_and_units_that_gave_up_are_throttled_gaps(
    org, proxy, lead
):
    before = baseline(org)
    first, second = members(org)
    # 30% of every call, spread over the three throttling shapes ...
    for outcome in ("throttle", "http429", "http500"):
        proxy.add(Rule(outcome, probability=0.1))
    # ... and one call that never gets through: its unit must give up.
    proxy.add(Rule("throttle", service="iam", action="ListUsers", account=second))

    scan = run_scan(org, timeout=150)

    assert set(proxy.injected) >= {"throttle", "http429", "http500"}
    assert sum(proxy.injected.values()) > 20
    gaps = gap_units(scan)
    assert scan.status == Scan.Status.PARTIAL, scan.message
    assert {(u.account.account_id, u.service) for u in gaps} >= {(second, "iam")}
    assert {u.error_kind for u in gaps} == {"throttled"}
    # Adaptive retries carried the rest: most units collected, some after retries.
    assert scan.units.filter(status=ScanUnit.Status.OK).count() >= 5
    assert scan.units.filter(
        status=ScanUnit.Status.OK, account__account_id=first
    ).exists()
    assert_nothing_lost_and_no_false_pass(before, scan)
    assert shown_units(lead, scan, "failed") == expected_rows(gaps)


# -- (2) AccessDenied for a service, a region, a whole account ---------------------


def denial(scope: str, account: str) -> Rule:
    if scope == "service":
        return Rule("access_denied", service="s3")
    if scope == "region":
        return Rule("access_denied", region="us-west-2")
    return Rule("access_denied", service="sts", action="AssumeRole", account=account)


def unit_name(unit: ScanUnit) -> str:
    return unit.service if unit.region == "global" else f"{unit.service}/{unit.region}"


@pytest.mark.parametrize(
    ("scope", "denied"),
    [
        ("service", {"s3"}),
        ("region", {"ec2/us-west-2"}),
        ("account", {"s3", "iam", "ec2/us-east-1", "ec2/us-west-2"}),
    ],
)
def test_access_denied_units_are_gaps_and_earlier_findings_stand(
    org, proxy, lead, scope, denied
):
    before = baseline(org)
    first, second = members(org)
    # A service or a region denied everywhere; or one account's role.
    proxy.add(denial(scope, first))

    scan = run_scan(org)

    gaps = gap_units(scan)
    assert scan.status == Scan.Status.PARTIAL, scan.message
    assert {u.error_kind for u in gaps} == {"access_denied"}
    accounts = {first} if scope == "account" else {first, second}
    assert {(u.account.account_id, unit_name(u)) for u in gaps} == {
        (account, name) for account in accounts for name in denied
    }
    assert_nothing_lost_and_no_false_pass(before, scan)
    shown = shown_units(lead, scan, "failed")
    assert shown == expected_rows(gaps)
    assert {row[3] for row in shown} == {"Access denied"}


# -- (3) Credentials expiring mid-scan ---------------------------------------------


def test_credentials_expiring_mid_scan_are_reassumed_and_no_unit_is_lost(org, proxy):
    before = baseline(org)
    first, second = members(org)
    proxy.reset()
    # Each account's session expires a few calls into the scan; every later
    # call signed with it is answered ExpiredToken, as AWS does.
    for account in (first, second):
        proxy.add(Rule("expired_token", account=account, after=6, times=1))

    scan = run_scan(org)

    assert scan.status == Scan.Status.FINISHED, scan.message
    assert scan.units.filter(status=ScanUnit.Status.OK).count() == 8
    assert proxy.injected["expired_token"] >= 2
    for account in (first, second):
        # The first session, then one more after the expiry at least.
        assert proxy.count(action="AssumeRole", account=account) >= 2
    # No call was lost: the same findings with the same statuses as before.
    assert finding_statuses() == before


# -- (4) Region not enabled --------------------------------------------------------


def test_region_not_enabled_is_skipped_and_labelled_not_failed_not_passing(
    org, proxy, lead
):
    before = baseline(org)
    first, second = members(org)
    proxy.disable_region(second, "us-west-2")

    scan = run_scan(org)

    assert scan.status == Scan.Status.FINISHED, scan.message
    skipped = gap_units(scan)
    assert [(u.account.account_id, u.region, u.service) for u in skipped] == [
        (second, "us-west-2", "ec2")
    ]
    assert skipped[0].status == ScanUnit.Status.SKIPPED
    assert skipped[0].error_kind == "region_disabled"
    assert_nothing_lost_and_no_false_pass(before, scan)
    assert shown_units(lead, scan, "skipped") == {
        (second, "us-west-2", "ec2", "Region not enabled")
    }
    assert shown_units(lead, scan, "failed") == set()


# -- (5) Endpoint unreachable mid-scan ---------------------------------------------


def test_endpoint_unreachable_mid_scan_fails_its_units_without_hanging(
    org, proxy, lead
):
    before = baseline(org)
    first, second = members(org)
    # The second account's endpoint starts resetting connections a few calls
    # in; the first account's S3 closes connections without an answer.
    proxy.add(Rule("reset", account=second, after=5))
    proxy.add(Rule("close", account=first, service="s3"))
    started = time.monotonic()

    scan = run_scan(org, timeout=90)

    assert time.monotonic() - started < 90
    assert scan.status == Scan.Status.PARTIAL, scan.message
    gaps = gap_units(scan)
    assert {u.error_kind for u in gaps} == {"unreachable"}
    # The first account lost its S3 unit only; the second lost every unit.
    assert {(u.account.account_id, unit_name(u)) for u in gaps} == {
        (first, "s3"),
        *((second, name) for name in ("s3", "iam", "ec2/us-east-1", "ec2/us-west-2")),
    }
    assert_nothing_lost_and_no_false_pass(before, scan)
    assert shown_units(lead, scan, "failed") == expected_rows(gaps)


def test_a_hanging_endpoint_times_out_in_bounded_time(proxy, settings):
    """The worker's connect and read timeouts bound a call to an endpoint that
    accepts and never answers: attempts x timeout, not forever."""
    settings.PARAPET_AWS_TIMEOUT_SECONDS = 1
    settings.PARAPET_AWS_MAX_ATTEMPTS = 2
    proxy.reset()
    proxy.add(Rule("delay", service="sts", delay=10))
    forget_credentials()
    started = time.monotonic()

    with use_endpoint(proxy.url), pytest.raises(ReadTimeoutError) as raised:
        assume_role(
            "arn:aws:iam::111122223333:role/ParapetAudit",
            external_id="ext-hang",
            session_name="parapet-hang",
        )

    assert time.monotonic() - started < 5
    assert classify(raised.value)[0] == "unreachable"
    assert proxy.injected["delay"] == 2  # PARAPET_AWS_MAX_ATTEMPTS, not one more


# -- (9) The same task delivered twice ---------------------------------------------


def plan_without_starting(org, monkeypatch) -> tuple[Scan, list[int]]:
    """A running scan whose tasks the test sends itself, as a broker would."""
    monkeypatch.setattr(pipeline, "_enqueue_start", lambda scan_id, background: None)
    scan = pipeline.plan_scan(org)
    Scan.objects.filter(pk=scan.pk).update(status=Scan.Status.RUNNING)
    return scan, list(scan.units.values_list("pk", flat=True))


def assert_one_set_of_results(scan: Scan, snapshots: int, findings: int) -> None:
    """A rescan of unchanged infrastructure: no new snapshot, the same
    findings, no change, and exactly one rollup per account and control."""
    scan.refresh_from_db()
    assert scan.status == Scan.Status.FINISHED, scan.message
    assert Snapshot.objects.count() == snapshots
    assert Finding.objects.count() == findings
    assert not FindingChange.objects.filter(scan=scan).exists()
    first = Scan.objects.exclude(pk=scan.pk).get()
    per_scan = {
        s.pk: ControlRollup.objects.filter(scan=s).count() for s in (scan, first)
    }
    assert per_scan[scan.pk] == per_scan[first.pk]


def test_a_unit_delivered_twice_is_collected_once(org, monkeypatch):
    baseline(org)
    snapshots, findings = Snapshot.objects.count(), Finding.objects.count()
    scan, units = plan_without_starting(org, monkeypatch)

    runs = [tasks.run_unit.delay(pk) for pk in units for _ in range(2)]
    outcomes = Counter(result.get(timeout=60) for result in runs)
    tasks.finish_scan.delay(scan.pk).get(timeout=60)
    # Once more after the scan is done: nothing to do.
    assert tasks.run_unit.delay(units[0]).get(timeout=60) == "skipped: not claimable"

    # One delivery collected each unit; its duplicate ended without touching
    # AWS (not by taking the unit over: "abandoned" means both claimed it).
    assert outcomes == {"ok": len(units), "skipped: not claimable": len(units)}
    assert set(scan.units.values_list("attempts", flat=True)) == {1}
    assert_one_set_of_results(scan, snapshots, findings)


def test_finish_delivered_twice_evaluates_once(org, monkeypatch):
    baseline(org)
    snapshots, findings = Snapshot.objects.count(), Finding.objects.count()
    scan, units = plan_without_starting(org, monkeypatch)
    for result in [tasks.run_unit.delay(pk) for pk in units]:
        assert result.get(timeout=60) == "ok"

    finishes = [tasks.finish_scan.delay(scan.pk) for _ in range(3)]
    for result in finishes:
        result.get(timeout=60, propagate=False)
    tasks.finish_scan.delay(scan.pk).get(timeout=60)  # after it finished

    failed = [repr(r.result) for r in finishes if not r.successful()]
    assert not failed, f"concurrent finish_scan deliveries collided: {failed}"
    assert_one_set_of_results(scan, snapshots, findings)
