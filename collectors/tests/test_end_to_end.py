"""End to end: a moto server organization, scanned by a real Celery worker over
real Redis into real Postgres, then read through the pages by two users."""

import time

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from accounts.aws import forget_credentials
from accounts.models import Account, Membership, Organization, Team
from collectors.models import Scan
from collectors.tests.harness import (
    CeleryWorker,
    redis_or_skip,
    use_broker,
    worker_database_url,
)
from findings.models import ControlRollup, pass_rate
from findings.templatetags.parapet import pct

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def moto_server():
    from demo.simulator import start_moto_server, use_endpoint

    server, endpoint = start_moto_server(0)
    with use_endpoint(endpoint):
        forget_credentials()
        yield endpoint
    server.stop()
    forget_credentials()


@pytest.fixture
def celery_worker(moto_server):
    """A real worker process on a real Redis broker, against the test database."""
    redis_or_skip()
    worker = CeleryWorker(
        aws_endpoint=moto_server, database_url=worker_database_url(), name="e2e-worker"
    )
    with worker, use_broker(worker):
        yield worker


def test_organization_scanned_by_a_real_worker_and_shown_scoped(
    celery_worker, moto_server, client
):
    from demo.seed import seed_organization

    seed = seed_organization(moto_server, regions=("us-east-1",))
    call_command(
        "add_organization",
        name="E2E org",
        management_account_id=seed.management_account_id,
        member_role=seed.member_role,
        external_id=seed.external_id,
        regions="us-east-1",
        simulated=True,
    )
    org = Organization.objects.get(name="E2E org")
    assert org.accounts.count() >= 5

    call_command("scan", organization="E2E org", services="s3,iam", timeout=240)
    scan = Scan.objects.get(organization=org)
    deadline = time.monotonic() + 240
    while not scan.is_done and time.monotonic() < deadline:
        time.sleep(1)
        scan.refresh_from_db()
    assert scan.status in (Scan.Status.FINISHED, Scan.Status.PARTIAL), scan.status
    assert scan.units.filter(status="ok").count() == scan.units.count()
    assert scan.units.filter(attempts=1).count() == scan.units.count()

    User = get_user_model()
    accounts = list(Account.objects.filter(organization=org).order_by("account_id"))
    mine, theirs = accounts[0], accounts[1]
    team = Team.objects.create(name="Blue")
    team.accounts.add(mine)
    alice = User.objects.create_user("alice", password="a-long-test-password")
    Membership.objects.create(team=team, user=alice)
    other = Team.objects.create(name="Red")
    other.accounts.add(theirs)
    bob = User.objects.create_user("bob", password="a-long-test-password")
    Membership.objects.create(team=other, user=bob)

    # The figure alice should see: her one account's rollups of this scan.
    rollups = ControlRollup.objects.filter(scan=scan, account=mine)
    totals = {
        key: sum(getattr(r, key) for r in rollups)
        for key in ("passed", "failed", "errors", "unknown")
    }
    assert totals["passed"] and totals["failed"]
    expected = pct(pass_rate(**totals))

    client.force_login(alice)
    page = client.get("/")
    assert page.status_code == 200
    text = page.content.decode()
    assert expected in text
    assert "Simulated organization" in text
    assert mine.account_id in text
    assert theirs.account_id not in text
    account_page = client.get(mine.get_absolute_url())
    assert account_page.status_code == 200
    assert expected in account_page.content.decode()

    client.force_login(bob)
    assert client.get(mine.get_absolute_url()).status_code == 404
    assert settings.ROOT_URLCONF
