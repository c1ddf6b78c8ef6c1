"""The VPC demo seed, scanned by the real collectors through a moto server.

The well-run "security" profile and the careless "sandbox" profile are seeded
into one account (their resource names do not overlap). demo.seed builds each
profile's "<profile>-workloads" VPC before this seed runs; the fixture lays
down the same thing first: one subnet in one zone, an instance, and the logs
bucket that flow logs go to.
"""

import os

import pytest

from accounts.aws import forget_credentials, new_session
from demo.seed import _Account
from demo.services import vpc
from demo.simulator import reset_moto_server, start_moto_server, use_endpoint
from findings.controls.base import Status
from findings.testing import collect, evaluate

pytestmark = pytest.mark.e2e

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
PROFILES = ("security", "sandbox")


def workloads_vpc(account: _Account, profile: str) -> None:
    """What demo.seed leaves for the profile: one zone, one instance."""
    ec2 = account.client("ec2", REGION)
    vpc_id = ec2.create_vpc(
        CidrBlock="10.10.0.0/16",
        TagSpecifications=vpc._name("vpc", f"{profile}-workloads"),
    )["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(
        VpcId=vpc_id, CidrBlock="10.10.1.0/24", AvailabilityZone=f"{REGION}a"
    )["Subnet"]["SubnetId"]
    ec2.run_instances(
        ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=subnet_id
    )


@pytest.fixture(scope="module")
def scanned():
    saved = dict(os.environ)
    server, url = start_moto_server()
    try:
        with use_endpoint(url):
            reset_moto_server(url)
            forget_credentials()
            account = _Account.management(url, (REGION,), ACCOUNT_ID)
            account.client("s3").create_bucket(Bucket=account.bucket("logs"))
            for profile in PROFILES:
                workloads_vpc(account, profile)
                vpc.seed(account, profile, REGION)
            session = new_session(region_name=REGION)
            records = collect("ec2", REGION, session=session) + collect(
                "vpc", REGION, session=session
            )
            yield records
    finally:
        reset_moto_server(url)
        server.stop()
        forget_credentials()
        # start_moto_server sets moto's switches too: leave nothing behind.
        os.environ.clear()
        os.environ.update(saved)


def named(records, resource_type: str, name: str) -> str:
    (found,) = [
        r.resource_id
        for r in records
        if r.resource_type == resource_type and r.name == name
    ]
    return found


def main_route_table(records, vpc_id: str) -> str:
    (found,) = [
        r.resource_id
        for r in records
        if r.resource_type == "AWS::EC2::RouteTable"
        and r.config["VpcId"] == vpc_id
        and any(a.get("Main") for a in r.config["Associations"])
    ]
    return found


def statuses(records, control_id: str, profile: str) -> dict[str, Status]:
    """The control's status on the profile's workloads VPC, hub and their routes."""
    workloads = named(records, "AWS::EC2::VPC", f"{profile}-workloads")
    hub = named(records, "AWS::EC2::VPC", f"{profile}-shared-services")
    found = evaluate(control_id, records)
    keys = {
        "workloads": workloads,
        "hub": hub,
        "workloads routes": main_route_table(records, workloads),
        "hub routes": main_route_table(records, hub),
    }
    return {label: found[key].status for label, key in keys.items() if key in found}


def test_security_profile_passes(scanned):
    assert statuses(scanned, "resilience.vpc.multi-az-subnets", "security") == {
        "workloads": Status.PASS,
        "hub": Status.NOT_APPLICABLE,
    }
    assert statuses(scanned, "vpc.endpoints.private-service-access", "security") == {
        "workloads": Status.PASS,
        "hub": Status.NOT_APPLICABLE,
    }
    assert statuses(scanned, "vpc.peering.least-access-routes", "security") == {
        "workloads routes": Status.PASS,
        "hub routes": Status.PASS,
    }
    # The hub is as locked down as the rest of the well-run account.
    hub = named(scanned, "AWS::EC2::VPC", "security-shared-services")
    (group,) = [
        r.resource_id
        for r in scanned
        if r.resource_type == "AWS::EC2::SecurityGroup" and r.config["VpcId"] == hub
    ]
    flow_logs = evaluate("vpc.flow-logs-enabled", scanned)[hub]
    default_group = evaluate("sg.default-restricts-all", scanned)[group]
    assert (flow_logs.status, default_group.status) == (Status.PASS, Status.PASS)


def test_sandbox_profile_fails(scanned):
    assert statuses(scanned, "resilience.vpc.multi-az-subnets", "sandbox") == {
        "workloads": Status.FAIL,
        "hub": Status.NOT_APPLICABLE,
    }
    endpoints = statuses(scanned, "vpc.endpoints.private-service-access", "sandbox")
    assert endpoints["workloads"] == Status.FAIL
    assert statuses(scanned, "vpc.peering.least-access-routes", "sandbox") == {
        "workloads routes": Status.FAIL,
        "hub routes": Status.FAIL,
    }
    gateway = named(scanned, "AWS::EC2::InternetGateway", "sandbox-hub-igw")
    hub = named(scanned, "AWS::EC2::VPC", "sandbox-shared-services")
    igw = next(r for r in scanned if r.resource_id == gateway)
    assert igw.config["Attachments"][0]["VpcId"] == hub


def test_block_public_access_is_unknown_on_the_simulator(scanned):
    # moto has no DescribeVpcBlockPublicAccessOptions: ERROR, never PASS, and
    # the rest of the unit was collected all the same.
    (result,) = evaluate("vpc.block-public-access", scanned).values()

    assert result.status == Status.ERROR
    assert "VpcBlockPublicAccessOptions could not be read" in result.reason
