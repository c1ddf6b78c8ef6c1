"""The two Celery queues (config/settings.py, docker-compose.yml): units are
collected by workers of the ``collect`` queue, scans are started and
evaluated by workers of ``default``, and a worker started without -Q
does both. Real workers on real Redis against a moto server.
"""

import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from collectors.models import Scan, ScanUnit
from collectors.pipeline import plan_scan, wait_for_scan
from collectors.tests.harness import (
    CeleryWorker,
    redis_or_skip,
    register_organization,
    seed_small_org,
    use_broker,
    worker_database_url,
)
from findings.models import ControlRollup

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def simulated():
    from accounts.aws import forget_credentials
    from demo.simulator import start_moto_server, use_endpoint

    redis_or_skip()
    server, endpoint = start_moto_server(0)
    with use_endpoint(endpoint):
        forget_credentials()
        seeded = seed_small_org(endpoint, regions=("us-east-1",))
        organization = register_organization(seeded, services=("s3", "iam"))
        yield SimpleNamespace(endpoint=endpoint, organization=organization)
    server.stop()
    forget_credentials()


@pytest.fixture
def start_worker(simulated, request):
    """``start_worker(queues, prefix=None)``: a real worker, stopped at the end;
    workers given the first one's ``prefix`` share its broker keys."""
    started: list[CeleryWorker] = []
    test_name = request.node.name.removeprefix("test_")[:30]

    def start(queues: str | None, prefix: str | None = None) -> CeleryWorker:
        worker = CeleryWorker(
            aws_endpoint=simulated.endpoint,
            database_url=worker_database_url(),
            queues=queues,
            env={"PARAPET_REDIS_KEY_PREFIX": prefix} if prefix else None,
            name=f"queues-{test_name}-{len(started)}",
        )
        if prefix:
            worker.prefix = prefix
        started.append(worker.start())
        worker.wait_ready()
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _unit_statuses(scan: Scan) -> set[str]:
    return set(scan.units.values_list("status", flat=True))


def _status(scan: Scan) -> str:
    scan.refresh_from_db()
    return scan.status


def test_units_are_collected_on_the_collect_queue_and_evaluated_on_default(
    simulated, start_worker
):
    evaluator = start_worker("default")
    with use_broker(evaluator):
        scan = plan_scan(simulated.organization)
        wait_until(lambda: _status(scan) == Scan.Status.RUNNING, 60, "the start")
        # Started by the evaluation worker, but no unit collected by it.
        time.sleep(3)
        assert _unit_statuses(scan) == {ScanUnit.Status.PENDING}
        evaluator.stop()

        start_worker("collect", prefix=evaluator.prefix)
        wait_until(
            lambda: not _unit_statuses(scan) & {"pending", "running"}, 120, "units"
        )
        assert _unit_statuses(scan) == {ScanUnit.Status.OK}
        # Collected, never evaluated: the collection worker leaves that to
        # the default queue, which nobody consumes now.
        time.sleep(3)
        assert _status(scan) == Scan.Status.RUNNING
        assert not ControlRollup.objects.filter(scan=scan).exists()

        start_worker("default", prefix=evaluator.prefix)
        scan = wait_for_scan(scan, timeout=120, poll=0.2)

    assert scan.status == Scan.Status.FINISHED, scan.message
    assert ControlRollup.objects.filter(scan=scan).exists()


def test_a_worker_started_without_queues_collects_and_evaluates(
    simulated, start_worker
):
    worker = start_worker(None)
    with use_broker(worker):
        scan = wait_for_scan(plan_scan(simulated.organization), timeout=120, poll=0.2)

    assert scan.status == Scan.Status.FINISHED, scan.message
    assert scan.units.filter(status=ScanUnit.Status.OK).count() == scan.units.count()
    assert ControlRollup.objects.filter(scan=scan).exists()
