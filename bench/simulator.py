"""The simulated AWS of a benchmark run, in a process of its own.

``python -m bench.simulator --accounts N --regions a,b`` starts a moto server,
creates an organization of N member accounts (each seeded like one of the
demo's member accounts, unless ``--bare``), optionally gives the first member
``--volumes`` EBS volumes, prints one JSON line describing it, and serves
until its standard input closes. Its own process, so moto's work does not
compete with the scanner for one interpreter lock.
"""

import argparse
import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MEMBER_ROLE = "ParapetAudit"
EXTERNAL_ID = "parapet-bench"


def seed(endpoint: str, members: int, regions: tuple[str, ...], bare: bool) -> dict:
    """An organization of ``members`` accounts; the demo's configurations cycled."""
    from demo import seed as demo

    management = demo._Account.management(endpoint, regions, demo.MANAGEMENT_ACCOUNT_ID)
    org = management.client("organizations")
    org.create_organization(FeatureSet="ALL")
    context = (demo.MANAGEMENT_ACCOUNT_ID, MEMBER_ROLE, EXTERNAL_ID)
    if not bare:
        demo._seed_account(management, demo.MANAGEMENT, *context)
    accounts = []
    for n in range(members):
        # The demo's services seed by profile (the spec's name); bucket
        # names come from the account's, which must be unique.
        spec = demo.MEMBERS[n % len(demo.MEMBERS)]
        name = f"{spec.name}-{n + 1:02d}"
        account_id = org.create_account(
            AccountName=name, Email=f"aws+{name}@example.com"
        )["CreateAccountStatus"]["AccountId"]
        accounts.append(account_id)
        if not bare:
            demo._seed_account(management.assume(account_id, name), spec, *context)
    return {
        "endpoint": endpoint,
        "management_account_id": demo.MANAGEMENT_ACCOUNT_ID,
        "member_role": MEMBER_ROLE,
        "external_id": EXTERNAL_ID,
        "accounts": accounts,
    }


def add_volumes(account_id: str, region: str, count: int) -> None:
    """EBS volumes written straight into moto's backend (its API is too slow).

    Volumes rather than snapshots: each snapshot costs the collector one more
    call, which moto answers in about 9 ms, so 100,000 would take the
    simulator alone a quarter of an hour.
    """
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[account_id][region]
    for _ in range(count):
        backend.create_volume(size=8, zone_name=f"{region}a")


def _page_describe_volumes() -> None:
    """Make moto answer DescribeVolumes in pages, as AWS does.

    moto 5.2 returns every volume in one answer whatever MaxResults asks, so
    figure 7 would measure the simulator's single response, not whether the
    collector streams pages.
    """
    from moto.core.responses import ActionResult
    from moto.ec2.responses.elastic_block_store import ElasticBlockStore

    def describe_volumes(self: ElasticBlockStore) -> ActionResult:
        volumes = list(
            self.ec2_backend.describe_volumes(
                volume_ids=self._get_param("VolumeIds", []),
                filters=self._filters_from_querystring(),
            )
        )
        size = self._get_int_param("MaxResults")
        if not size:
            return ActionResult({"Volumes": volumes})
        start = int(self._get_param("NextToken") or 0)
        result = {"Volumes": volumes[start : start + size]}
        if start + size < len(volumes):
            result["NextToken"] = str(start + size)
        return ActionResult(result)

    ElasticBlockStore.describe_volumes = describe_volumes  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.simulator")
    parser.add_argument("--accounts", type=int, required=True)
    parser.add_argument("--regions", required=True)
    parser.add_argument("--volumes", type=int, default=0)
    parser.add_argument("--bare", action="store_true")
    args = parser.parse_args()

    from demo.simulator import start_moto_server

    regions = tuple(args.regions.split(","))
    _page_describe_volumes()
    server, endpoint = start_moto_server(0)
    info = seed(endpoint, args.accounts, regions, args.bare)
    if args.volumes:
        add_volumes(info["accounts"][0], regions[0], args.volumes)
    print(json.dumps(info), flush=True)
    sys.stdin.read()  # serve until the benchmark closes our stdin
    server.stop()


@contextlib.contextmanager
def running(
    accounts: int, regions: tuple[str, ...], *, bare: bool = False, volumes: int = 0
) -> Iterator[dict]:
    """Start the simulator process; yields its description; stops it after."""
    command = [
        sys.executable,
        "-m",
        "bench.simulator",
        f"--accounts={accounts}",
        f"--regions={','.join(regions)}",
        f"--volumes={volumes}",
    ]
    if bare:
        command.append("--bare")
    process = subprocess.Popen(
        command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the AWS simulator exited before it was ready")
        yield json.loads(line)
    finally:
        process.stdin.close()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
