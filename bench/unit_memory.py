"""Figure 7: peak memory of the process collecting one very large unit.

The first member account of a bare simulated organization owns N EBS volumes
(written straight into moto). One EC2 unit is collected through
``collectors.pipeline.run_unit``, as a worker would, in a fresh process
(``python -m bench.collect_one UNIT_ID``) that reports its peak RSS growth
over its warmed-up start. Measured at N/10 and at N: if collection streams,
the growth does not depend on N.
"""

import json
import os
import subprocess
import sys

from django.core.management import call_command
from django.utils import timezone

from accounts.models import Account, Organization
from bench import simulator
from bench.report import Row, megabytes, seconds
from collectors.models import Scan, ScanUnit
from demo.simulator import DEMO_CREDENTIALS, use_endpoint

TARGET_GROWTH = 50 * 2**20


def run(resources: int, region: str) -> list[Row]:
    sizes = [max(1, resources // 10), resources]
    measured = [_collect(size, region) for size in sizes]
    (_, small_growth, _), (unit, growth, elapsed) = measured
    per_thousand = (growth - small_growth) / (sizes[1] - sizes[0]) * 1000
    return [
        Row(
            "7 worker memory: one unit, peak RSS growth",
            f"{unit.resources:,} resources in {seconds(elapsed)}, "
            f"{unit.api_calls:,} calls: +{megabytes(growth)} "
            f"(+{megabytes(small_growth)} at {sizes[0]:,}; "
            f"{megabytes(per_thousand)} per 1,000 more)",
            f"≤ {megabytes(TARGET_GROWTH)}",
            growth <= TARGET_GROWTH and unit.status == ScanUnit.Status.OK,
        )
    ]


def _collect(volumes: int, region: str) -> tuple[ScanUnit, int, float]:
    """Collect one EC2 unit holding ``volumes`` volumes in a child process."""
    with simulator.running(1, (region,), bare=True, volumes=volumes) as aws:
        name = f"Bench memory {volumes}"
        with use_endpoint(aws["endpoint"]):
            call_command(
                "add_organization",
                name=name,
                management_account_id=aws["management_account_id"],
                member_role=aws["member_role"],
                external_id=aws["external_id"],
                regions=region,
                services="ec2",
                simulated=True,
                stdout=open(os.devnull, "w"),  # noqa: SIM115
            )
        unit = _unit(name, aws["accounts"][0], region)
        env = {**os.environ, **DEMO_CREDENTIALS, "AWS_ENDPOINT_URL": aws["endpoint"]}
        output = subprocess.run(
            [sys.executable, "-m", "bench.collect_one", str(unit.pk)],
            cwd=simulator.REPO,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    result = json.loads(output.strip().splitlines()[-1])
    unit.refresh_from_db()
    if unit.status != ScanUnit.Status.OK:
        raise RuntimeError(f"the unit was not collected: {unit.error_message}")
    return unit, result["growth"], result["seconds"]


def _unit(organization: str, account_id: str, region: str) -> ScanUnit:
    account = Account.objects.get(
        organization=Organization.objects.get(name=organization),
        account_id=account_id,
    )
    scan = Scan.objects.create(
        organization=account.organization,
        started_at=timezone.now(),
        status=Scan.Status.RUNNING,
        regions=[region],
        services=["ec2"],
    )
    return ScanUnit.objects.create(
        scan=scan, account=account, region=region, service="ec2"
    )
