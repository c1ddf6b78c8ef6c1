"""End to end: a moto server organization, scanned by a real Celery worker over
real Redis into real Postgres, then read through the pages by two users."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from accounts.models import Account, Membership, Organization, Team
from collectors.models import Scan
from findings.models import ControlRollup, pass_rate
from findings.templatetags.parapet import pct

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

REDIS_URL = os.environ.get("PARAPET_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REPO = Path(__file__).resolve().parents[2]


def _redis_or_skip():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(
            f"no Redis at {REDIS_URL}: the end-to-end test needs a real broker "
            "(start redis-server or set PARAPET_TEST_REDIS_URL)"
        )
    return client


def _test_database_url() -> str:
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    auth = f"{user}:{db['PASSWORD']}" if db["PASSWORD"] else user
    if db["HOST"].startswith("/"):
        return f"postgresql://{auth}@/{db['NAME']}?host={db['HOST']}"
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgresql://{auth}@{host}/{db['NAME']}"


@pytest.fixture
def moto_server():
    from demo.simulator import start_moto_server, use_endpoint

    saved = dict(os.environ)
    server, endpoint = start_moto_server(0)
    use_endpoint(endpoint)
    from accounts.aws import forget_credentials

    forget_credentials()
    yield endpoint
    server.stop()
    os.environ.clear()
    os.environ.update(saved)
    forget_credentials()


def _reset_connections(app) -> None:
    """Make the producer side reconnect with the broker now configured."""
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def celery_worker(moto_server):
    """A real worker process on a real Redis broker, against the test database."""
    _redis_or_skip()
    from config.celery import app

    # Its own key prefix, so concurrent runs on one Redis never share a queue.
    prefix = f"parapet-test-{os.getpid()}-{time.time_ns()}:"
    env = {
        **os.environ,
        "PARAPET_REDIS_KEY_PREFIX": prefix,
        "REDIS_URL": REDIS_URL,
        "DATABASE_URL": _test_database_url(),
        "AWS_ENDPOINT_URL": moto_server,
        "PYTHONUNBUFFERED": "1",
    }
    (REPO / "test-artifacts").mkdir(exist_ok=True)
    log_path = REPO / "test-artifacts" / f"e2e-worker-{os.getpid()}.log"
    log = open(log_path, "w")  # noqa: SIM115
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "default,collect",
            "--concurrency",
            "2",
            "-l",
            "info",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    saved = {
        k: app.conf[k]
        for k in (
            "broker_url",
            "result_backend",
            "task_always_eager",
            "broker_transport_options",
            "result_backend_transport_options",
        )
    }
    app.conf.update(
        broker_url=REDIS_URL,
        result_backend=REDIS_URL,
        task_always_eager=False,
        broker_transport_options={
            **app.conf.broker_transport_options,
            "global_keyprefix": prefix,
        },
        result_backend_transport_options={"global_keyprefix": prefix},
    )
    _reset_connections(app)
    yield worker
    app.conf.update(saved)
    _reset_connections(app)
    worker.terminate()
    try:
        worker.wait(15)
    except subprocess.TimeoutExpired:
        worker.kill()
    log.close()


def test_organization_scanned_by_a_real_worker_and_shown_scoped(
    celery_worker, moto_server, client
):
    from demo.seed import seed_organization

    (REPO / "test-artifacts").mkdir(exist_ok=True)
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
