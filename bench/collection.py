"""Figures 1 and 2: collection under latency, and the unchanged rescan.

One simulated organization is scanned four times without changes: on the
in-process thread pool (first scan, then a rescan), then by one and by two
real Celery worker processes when a Redis answers. The Celery workers are
deployed as docker-compose does: collection workers on the ``collect`` queue,
plus one single-process worker on ``default`` that starts and evaluates the
scan (idle while units are collected). Each scan is timed against its
critical-path bound: every API call at the added latency spread over the
collection workers' concurrency, or the longest single unit if that is longer.
"""

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.management import call_command
from django.db.models import Max, Min, Sum

from accounts.models import Organization
from bench import latency, simulator
from bench.report import Row, ratio, seconds
from bench.scale import Scale
from collectors.models import Scan, ScanUnit, Snapshot
from collectors.pipeline import plan_scan, wait_for_scan
from demo.simulator import use_endpoint
from findings.models import FindingChange

ORGANIZATION = "Bench collection"
TARGET_RATIO = 1.5
TARGET_RESCAN = 0.01
REDIS_DB = 14


@dataclass
class Collected:
    label: str
    scan: Scan
    concurrency: int
    latency: float
    wall: float = 0.0
    evaluation: float = 0.0
    units: int = 0
    calls: int = 0
    longest: float = 0.0

    @classmethod
    def of(cls, label: str, scan: Scan, concurrency: int, latency: float):
        units = scan.units.all()
        agg = units.aggregate(
            last=Max("finished_at"), first=Min("started_at"), calls=Sum("api_calls")
        )
        longest = max(
            (
                u.duration_seconds or 0.0
                for u in units.only("started_at", "finished_at")
            ),
            default=0.0,
        )
        wall = (agg["last"] - scan.started_at).total_seconds()
        evaluation = (scan.finished_at - agg["last"]).total_seconds()
        return cls(
            label,
            scan,
            concurrency,
            latency,
            wall,
            evaluation,
            units.count(),
            agg["calls"] or 0,
            longest,
        )

    @property
    def bound(self) -> float:
        return max(self.calls * self.latency / self.concurrency, self.longest)

    def row(self) -> Row:
        value = self.wall / self.bound if self.bound else float("inf")
        return Row(
            f"1 collection, {self.label}",
            f"{seconds(self.wall)} wall, {self.calls} calls, {self.units} units "
            f"({self.units / self.wall:.1f}/s), bound {seconds(self.bound)} "
            f"→ {ratio(value)}; evaluation {seconds(self.evaluation)}",
            f"≤ {TARGET_RATIO}× bound",
            value <= TARGET_RATIO,
        )


def run(scale: Scale) -> tuple[list[Row], Scan]:
    """The rows of figures 1 and 2, and the rescan (figure 4 re-evaluates it)."""
    with (
        simulator.running(scale.accounts, scale.regions) as aws,
        use_endpoint(aws["endpoint"]),
    ):
        organization = _register(aws, scale)
        return _measure(organization, scale, aws["endpoint"])


def _register(aws: dict, scale: Scale) -> Organization:
    call_command(
        "add_organization",
        name=ORGANIZATION,
        management_account_id=aws["management_account_id"],
        member_role=aws["member_role"],
        external_id=aws["external_id"],
        regions=",".join(scale.regions),
        services=",".join(scale.services or ()),
        simulated=True,
        stdout=open(os.devnull, "w"),  # noqa: SIM115
    )
    return Organization.objects.get(name=ORGANIZATION)


def _measure(
    organization: Organization, scale: Scale, endpoint: str
) -> tuple[list[Row], Scan]:
    delay = scale.latency_ms / 1000
    latency.install(delay)
    try:
        threads = settings.PARAPET_INPROCESS_CONCURRENCY
        first = Collected.of(
            f"threads×{threads}, first scan", _scan(organization), threads, delay
        )
        rescan = Collected.of(
            f"threads×{threads}, rescan", _scan(organization), threads, delay
        )
    finally:
        latency.install(0)
    rows = [first.row(), rescan.row()]
    rows += _celery_rows(organization, scale, endpoint)
    rows.append(_rescan_row(first.scan, rescan.scan))
    return rows, rescan.scan


def _scan(organization: Organization) -> Scan:
    """A scan through the real pipeline; returns once it is done.

    A scan that collected nothing measures nothing: that is the harness (or
    the tree) broken, not a figure.
    """
    scan = plan_scan(organization, trigger=Scan.Trigger.CLI)
    scan = wait_for_scan(scan, timeout=4 * 3600, poll=0.5)
    if not scan.units.filter(status=ScanUnit.Status.OK).exists():
        failed = scan.units.exclude(error_message="").first()
        reason = failed.error_message if failed else scan.status
        raise RuntimeError(f"scan {scan.pk} collected no unit: {reason}")
    return scan


def _rescan_row(first: Scan, second: Scan) -> Row:
    snaps = [Snapshot.objects.filter(scan=s).count() for s in (first, second)]
    changes = [FindingChange.objects.filter(scan=s).count() for s in (first, second)]
    value = (snaps[1] + changes[1]) / max(1, snaps[0] + changes[0])
    return Row(
        "2 unchanged rescan: rows written ÷ first scan",
        f"{value:.2%} (snapshots {snaps[1]}/{snaps[0]}, "
        f"finding changes {changes[1]}/{changes[0]})",
        f"≤ {TARGET_RESCAN:.0%}",
        value <= TARGET_RESCAN,
    )


def _celery_rows(organization: Organization, scale: Scale, endpoint: str):
    if not scale.worker_counts:
        return []
    broker = redis_url()
    if broker is None:
        return [
            Row(
                "1 collection, Celery workers",
                "not run: no Redis answers (set REDIS_URL)",
            )
        ]
    rows = []
    for count in scale.worker_counts:
        with celery_workers(count, scale, broker, endpoint):
            scan = _scan(organization)
        total = count * scale.worker_concurrency
        label = f"{count} Celery worker(s)×{scale.worker_concurrency}"
        rows.append(Collected.of(label, scan, total, scale.latency_ms / 1000).row())
    return rows


def redis_url() -> str | None:
    """REDIS_URL (or the local default) on database 14, if a Redis answers."""
    import redis

    base = os.environ.get("BENCH_REDIS_URL") or os.environ.get(
        "REDIS_URL", "redis://127.0.0.1:6379/0"
    )
    url = urlunsplit(urlsplit(base)._replace(path=f"/{REDIS_DB}"))
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.exceptions.RedisError:
        return None
    return url


@contextlib.contextmanager
def celery_workers(count: int, scale: Scale, broker: str, endpoint: str) -> Iterator:
    """``count`` collection workers and one evaluation worker on their own
    key prefix; this process sends."""
    from config.celery import app

    prefix = f"parapet-bench-{os.getpid()}-{time.time_ns()}:"
    env = {
        **os.environ,
        "REDIS_URL": broker,
        "PARAPET_REDIS_KEY_PREFIX": prefix,
        "AWS_ENDPOINT_URL": endpoint,
        "BENCH_LATENCY_MS": str(scale.latency_ms),
    }
    started = [(f"bench{n}", scale.worker_concurrency, "collect") for n in range(count)]
    started.append(("bench-evaluate", 1, "default"))
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.worker", name, str(processes), queues],
            cwd=simulator.REPO,
            env=env,
        )
        for name, processes, queues in started
    ]
    saved = {
        key: app.conf[key]
        for key in (
            "broker_url",
            "result_backend",
            "task_always_eager",
            "broker_transport_options",
            "result_backend_transport_options",
        )
    }
    app.conf.update(
        broker_url=broker,
        result_backend=broker,
        task_always_eager=False,
        broker_transport_options={
            **app.conf.broker_transport_options,
            "global_keyprefix": prefix,
        },
        result_backend_transport_options={"global_keyprefix": prefix},
    )
    _reconnect(app)
    try:
        _wait_ready(app, len(workers))
        yield
    finally:
        app.conf.update(saved)
        _reconnect(app)
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def _reconnect(app) -> None:
    """Make this process's producer use the broker just configured."""
    app._pool = None
    app.amqp._producer_pool = None


def _wait_ready(app, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(app.control.ping(timeout=1.0) or []) >= count:
            return
    raise RuntimeError(f"{count} Celery worker(s) did not start in {timeout:.0f} s")
