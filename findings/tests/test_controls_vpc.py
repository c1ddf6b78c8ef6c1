"""VPC connectivity controls over what the "ec2" and "vpc" collectors read.

One moto world serves the module: VPCs with and without instances, subnets in
one or two zones, endpoints, a peering connection and route tables through it.
moto has no VPC Block Public Access and no VPN tunnel options or telemetry;
those calls are answered in AWS's documented shape (checked against the
service model, as botocore's Stubber does) by a ``before-call`` handler, so the
real collector and control see what AWS would return.
"""

from datetime import UTC, datetime

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.parsers import ResponseParserError
from botocore.validate import ParamValidator
from moto import mock_aws

from accounts.aws import forget_credentials, new_session
from collectors.base import ResourceRecord
from findings.controls import REGISTRY
from findings.controls.base import Severity, Status
from findings.testing import ACCOUNT_ID, collect, deny, evaluate

AMI = "ami-12345678"  # any id: moto launches from ids it does not know
INSTANCE = "AWS::EC2::Instance"
VPC = "AWS::EC2::VPC"
PEERING = "AWS::EC2::VPCPeeringConnection"
ROUTE_TABLE = "AWS::EC2::RouteTable"
VPN = "AWS::EC2::VPNConnection"
BPA = "AWS::EC2::VPCBlockPublicAccessOptions"
VPN_ID = "vpn-0a1b2c3d4e5f60718"

EXPECTED = {
    # id: (section, severity, (CIS v3, v4), Security Hub)
    "resilience.vpc.multi-az-subnets": (
        "business-continuity/availability/multi-az",
        Severity.MEDIUM,
        ("", ""),
        (),
    ),
    "vpc.endpoints.private-service-access": (
        "network/vpc",
        Severity.LOW,
        ("", ""),
        ("EC2.10",),
    ),
    "vpc.peering.least-access-routes": (
        "network/vpc/subnets-route-tables",
        Severity.MEDIUM,
        ("5.5", "5.6"),
        (),
    ),
    "vpn.tunnels-up": (
        "network/vpc/virtual-private-gateway",
        Severity.MEDIUM,
        ("", ""),
        ("EC2.20",),
    ),
    "vpn.tunnel-logging": (
        "network/vpc/virtual-private-gateway",
        Severity.MEDIUM,
        ("", ""),
        ("EC2.171",),
    ),
    "vpc.block-public-access": (
        "network/vpc/internet-gateway",
        Severity.MEDIUM,
        ("", ""),
        ("EC2.172",),
    ),
}


@pytest.mark.parametrize("control_id", sorted(EXPECTED))
def test_catalog_entry_matches_the_reference(control_id):
    section, severity, cis, security_hub = EXPECTED[control_id]
    ctl = REGISTRY[control_id]

    assert (ctl.section, ctl.severity) == (section, severity)
    assert (ctl.cis_v3, ctl.cis_v4) == cis
    assert ctl.security_hub == security_hub
    assert ctl.remediation and ctl.remediation_cli.startswith("aws ec2 ")
    assert ctl.rationale


# -- helpers


def answer(session, operation: str, parsed: dict) -> None:
    """Answer ``ec2.operation`` for ``session``'s clients with ``parsed``.

    The response is validated against the operation's output shape first, so
    it is what AWS documents, not what the test wishes for.
    """
    shape = session.client("ec2").meta.service_model.operation_model(operation)
    report = ParamValidator().validate(parsed, shape.output_shape)
    assert not report.has_errors(), report.generate_report()

    def handler(**kwargs):
        http = AWSResponse("https://stub.invalid", 200, {}, None)
        return http, {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200}}

    session.events.register(f"before-call.ec2.{operation}", handler)


def moto_server_500(**kwargs):
    # What a moto server sends for the call it lacks: an HTML 500 page that
    # botocore cannot parse (in-process moto raises NotImplementedError).
    raise ResponseParserError("Unable to parse response (syntax error), invalid XML")


def session_in(region: str = "us-east-1") -> boto3.Session:
    """A fresh session on the module's moto world (hooks do not leak).

    new_session shares one botocore data loader, so the EC2 model is parsed
    once for the module rather than once per session.
    """
    session = new_session(region_name=region)
    session.events.register_last(
        "before-call.ec2.DescribeVpcBlockPublicAccessOptions", moto_server_500
    )
    return session


def record(resource_type: str, resource_id: str, config: dict) -> ResourceRecord:
    """A record shaped like AWS's answer, for what moto cannot produce."""
    return ResourceRecord(
        resource_type=resource_type,
        resource_id=resource_id,
        config=config,
        region="us-east-1",
    )


# -- the world


@pytest.fixture(scope="module")
def world():
    with mock_aws():
        forget_credentials()
        ec2 = new_session(region_name="us-east-1").client("ec2")
        ids = build(ec2)
        session = session_in()
        ids["records"] = collect("ec2", session=session) + collect(
            "vpc", session=session
        )
        yield ids
    forget_credentials()


def build(ec2) -> dict:
    def vpc(cidr: str) -> str:
        return ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]

    def subnet(vpc_id: str, cidr: str, zone: str) -> str:
        return ec2.create_subnet(
            VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=f"us-east-1{zone}"
        )["Subnet"]["SubnetId"]

    def endpoint(vpc_id: str, service: str, kind: str, **kwargs) -> str:
        return ec2.create_vpc_endpoint(
            VpcId=vpc_id,
            ServiceName=f"com.amazonaws.us-east-1.{service}",
            VpcEndpointType=kind,
            **kwargs,
        )["VpcEndpoint"]["VpcEndpointId"]

    def launch(subnet_id: str) -> None:
        ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, SubnetId=subnet_id)

    # "spread": two zones, both endpoints. "single": one zone, an S3 endpoint
    # of the wrong type and none for EC2. "empty": no instances at all.
    spread, single, empty = vpc("10.0.0.0/16"), vpc("10.1.0.0/16"), vpc("10.2.0.0/16")
    spread_a = subnet(spread, "10.0.1.0/24", "a")
    subnet(spread, "10.0.2.0/24", "b")
    launch(spread_a)
    table = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [spread]}])[
        "RouteTables"
    ][0]["RouteTableId"]
    endpoint(spread, "s3", "Gateway", RouteTableIds=[table])
    endpoint(spread, "ec2", "Interface", SubnetIds=[spread_a])
    single_a = subnet(single, "10.1.1.0/24", "a")
    subnet(single, "10.1.2.0/24", "a")
    launch(single_a)
    endpoint(single, "s3", "Interface", SubnetIds=[single_a])
    subnet(empty, "10.2.1.0/24", "a")

    pcx = ec2.create_vpc_peering_connection(VpcId=spread, PeerVpcId=single)[
        "VpcPeeringConnection"
    ]["VpcPeeringConnectionId"]
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    tables = {}
    for name, destinations in {
        "exact": ["10.1.0.0/16"],
        "narrow": ["10.1.2.0/24"],
        "default": ["0.0.0.0/0"],
        "ipv6-default": ["10.1.1.0/24", "::/0"],
        "too-wide": ["10.0.0.0/8"],
    }.items():
        tables[name] = ec2.create_route_table(VpcId=spread)["RouteTable"][
            "RouteTableId"
        ]
        for destination in destinations:
            key = (
                "DestinationIpv6CidrBlock"
                if ":" in destination
                else ("DestinationCidrBlock")
            )
            ec2.create_route(
                RouteTableId=tables[name],
                VpcPeeringConnectionId=pcx,
                **{key: destination},
            )
    # The way back, from the other end of the peering.
    tables["return"] = ec2.create_route_table(VpcId=single)["RouteTable"][
        "RouteTableId"
    ]
    ec2.create_route(
        RouteTableId=tables["return"],
        DestinationCidrBlock="10.0.1.0/24",
        VpcPeeringConnectionId=pcx,
    )
    tables["main"] = table

    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=spread)
    customer = ec2.create_customer_gateway(
        Type="ipsec.1", PublicIp="203.0.113.10", BgpAsn=65000
    )["CustomerGateway"]["CustomerGatewayId"]
    gateway = ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]
    vpn = ec2.create_vpn_connection(
        Type="ipsec.1", CustomerGatewayId=customer, VpnGatewayId=gateway
    )["VpnConnection"]["VpnConnectionId"]
    return {
        "spread": spread,
        "single": single,
        "empty": empty,
        "pcx": pcx,
        "tables": tables,
        "igw": igw,
        "vpn": vpn,
    }


def results(world, control_id: str, **kwargs):
    return evaluate(control_id, world["records"], **kwargs)


# -- resilience.vpc.multi-az-subnets


def test_multi_az_passes_across_two_zones_and_fails_in_one(world):
    found = results(world, "resilience.vpc.multi-az-subnets")

    spread = found[world["spread"]]
    assert spread.status == Status.PASS
    assert "use1-az6 (us-east-1a)" in spread.reason
    assert "1 instance" in spread.reason
    single = found[world["single"]]
    assert single.status == Status.FAIL
    assert "every subnet is in use1-az6 (us-east-1a)" in single.reason


def test_multi_az_does_not_apply_to_vpcs_without_instances(world):
    found = results(world, "resilience.vpc.multi-az-subnets")

    assert found[world["empty"]].status == Status.NOT_APPLICABLE
    # moto's default VPC: six zones, no instances.
    default = [k for k in found if k not in (world["spread"], world["single"])]
    assert {found[k].status for k in default} == {Status.NOT_APPLICABLE}


def test_multi_az_without_the_instance_inventory_is_an_error(world):
    found = results(
        world,
        "resilience.vpc.multi-az-subnets",
        uncollected={(INSTANCE, "us-east-1"): "access denied"},
    )

    assert found[world["spread"]].status == Status.ERROR
    assert "AWS::EC2::Instance not collected" in found[world["spread"]].reason


# -- vpc.endpoints.private-service-access


def test_endpoints_pass_with_s3_gateway_and_ec2_interface(world):
    found = results(world, "vpc.endpoints.private-service-access")

    assert found[world["spread"]].status == Status.PASS
    assert found[world["empty"]].status == Status.NOT_APPLICABLE


def test_endpoints_fail_names_the_wrong_type_and_the_missing_service(world):
    reason = results(world, "vpc.endpoints.private-service-access")[
        world["single"]
    ].reason

    assert "no available Gateway endpoint for com.amazonaws.us-east-1.s3" in reason
    assert ": Interface, available)" in reason
    assert "no Interface endpoint for com.amazonaws.us-east-1.ec2" in reason


def test_endpoint_that_is_not_available_does_not_count(world):
    vpc = next(r for r in world["records"] if r.resource_id == world["spread"])
    endpoints = [
        {**e, "State": "pending"} if e["VpcEndpointType"] == "Interface" else e
        for e in vpc.config["VpcEndpoints"]
    ]
    records = [r for r in world["records"] if r.resource_type == INSTANCE] + [
        record(
            "AWS::EC2::VPC", vpc.resource_id, {**vpc.config, "VpcEndpoints": endpoints}
        )
    ]

    found = evaluate("vpc.endpoints.private-service-access", records)

    assert found[vpc.resource_id].status == Status.FAIL
    assert ": Interface, pending)" in found[vpc.resource_id].reason


def test_endpoints_unreadable_is_an_error(world):
    session = session_in()
    deny(session, "ec2", "DescribeVpcEndpoints")

    found = evaluate(
        "vpc.endpoints.private-service-access", collect("ec2", session=session)
    )

    assert found[world["spread"]].status == Status.ERROR
    assert "VpcEndpoints could not be read" in found[world["spread"]].reason
    assert found[world["empty"]].status == Status.NOT_APPLICABLE


# -- vpc.peering.least-access-routes


def test_peering_routes_inside_the_peer_vpc_pass(world):
    found = results(world, "vpc.peering.least-access-routes")
    tables = world["tables"]

    for name in ("exact", "narrow", "return"):
        assert found[tables[name]].status == Status.PASS, name
    assert "every peering route (1) stays inside" in found[tables["exact"]].reason
    assert found[tables["main"]].status == Status.PASS
    assert "no route targets" in found[tables["main"]].reason


def test_peering_default_and_over_wide_routes_fail(world):
    found = results(world, "vpc.peering.least-access-routes")
    tables, pcx = world["tables"], world["pcx"]

    assert found[tables["default"]].status == Status.FAIL
    assert f"0.0.0.0/0 → {pcx}" in found[tables["default"]].reason
    assert found[tables["ipv6-default"]].status == Status.FAIL
    assert f"::/0 → {pcx}" in found[tables["ipv6-default"]].reason
    too_wide = found[tables["too-wide"]]
    assert too_wide.status == Status.FAIL
    assert f"10.0.0.0/8 → {pcx} is wider than peer VPC {world['single']}" in (
        too_wide.reason
    )


def test_peering_routes_without_the_peering_inventory_are_an_error(world):
    found = results(
        world,
        "vpc.peering.least-access-routes",
        uncollected={(PEERING, "us-east-1"): "access denied"},
    )

    assert found[world["tables"]["exact"]].status == Status.ERROR
    # A table without peering routes needs no lookup.
    assert found[world["tables"]["main"]].status == Status.PASS


def test_peering_blackhole_and_prefix_list_routes():
    def table(*routes: dict) -> ResourceRecord:
        return record(ROUTE_TABLE, "rtb-1", {"VpcId": "vpc-a", "Routes": list(routes)})

    gone = {
        "DestinationCidrBlock": "10.9.0.0/16",
        "VpcPeeringConnectionId": "pcx-gone",
        "State": "blackhole",
    }
    listed = {
        "DestinationPrefixListId": "pl-1234",
        "VpcPeeringConnectionId": "pcx-gone",
        "State": "active",
    }

    blackhole = evaluate("vpc.peering.least-access-routes", [table(gone)])["rtb-1"]
    prefix = evaluate("vpc.peering.least-access-routes", [table(listed)])["rtb-1"]

    # A blackhole route carries nothing; a prefix list cannot be checked.
    assert blackhole.status == Status.PASS
    assert prefix.status == Status.ERROR
    assert "pl-1234" in prefix.reason


# -- VPN (AWS-shaped answers: moto has no tunnel options or telemetry). The
# tests take ``world`` for its running moto, which answers the other calls.


def tunnel(ip: str, logging: bool) -> dict:
    options: dict = {"LogEnabled": logging}
    if logging:
        options |= {
            "LogGroupArn": f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:vpn",
            "LogOutputFormat": "json",
        }
    return {"OutsideIpAddress": ip, "LogOptions": {"CloudWatchLogOptions": options}}


def telemetry(ip: str, status: str) -> dict:
    return {
        "OutsideIpAddress": ip,
        "Status": status,
        "StatusMessage": "IPSEC IS DOWN" if status == "DOWN" else "2 BGP ROUTES",
        "AcceptedRouteCount": 2 if status == "UP" else 0,
        "LastStatusChange": datetime(2026, 1, 1, tzinfo=UTC),
    }


def vpn_results(
    control_id: str,
    *,
    state: str = "available",
    up: tuple[bool, bool] = (True, True),
    logging: tuple[bool, bool] = (True, True),
):
    ips = ("203.0.113.10", "203.0.113.20")
    vpn = {
        "VpnConnectionId": VPN_ID,
        "State": state,
        "Type": "ipsec.1",
        "CustomerGatewayId": "cgw-0a1b2c3d4e5f60718",
        "VpnGatewayId": "vgw-0a1b2c3d4e5f60718",
        "Category": "VPN",
        "Options": {
            "StaticRoutesOnly": False,
            "TunnelOptions": [
                tunnel(ip, on) for ip, on in zip(ips, logging, strict=True)
            ],
        },
        "VgwTelemetry": [
            telemetry(ip, "UP" if ok else "DOWN")
            for ip, ok in zip(ips, up, strict=True)
        ],
    }
    session = session_in()
    answer(session, "DescribeVpnConnections", {"VpnConnections": [vpn]})
    return evaluate(control_id, collect("vpc", session=session))[VPN_ID]


def test_vpn_tunnels_up_passes_when_both_are_up(world):
    result = vpn_results("vpn.tunnels-up")

    assert result.status == Status.PASS
    assert "203.0.113.10, 203.0.113.20" in result.reason


def test_vpn_tunnels_up_fails_on_a_down_tunnel(world):
    result = vpn_results("vpn.tunnels-up", up=(True, False))

    assert result.status == Status.FAIL
    assert result.reason == "tunnel 203.0.113.20 is DOWN (IPSEC IS DOWN)"


def test_vpn_tunnels_up_does_not_apply_while_pending(world):
    result = vpn_results("vpn.tunnels-up", state="pending", up=(False, False))

    assert result.status == Status.NOT_APPLICABLE


def test_vpn_tunnel_logging_pass_and_fail(world):
    logged = vpn_results("vpn.tunnel-logging")
    half = vpn_results("vpn.tunnel-logging", logging=(True, False))

    assert logged.status == Status.PASS
    assert "all 2 tunnels log to CloudWatch Logs" in logged.reason
    assert half.status == Status.FAIL
    assert half.reason == "tunnel activity logging is off for tunnel 203.0.113.20"


def test_vpn_tunnel_logging_does_not_apply_while_deleting(world):
    result = vpn_results("vpn.tunnel-logging", state="deleting", logging=(False, False))

    assert result.status == Status.NOT_APPLICABLE


@pytest.mark.parametrize("control_id", ["vpn.tunnels-up", "vpn.tunnel-logging"])
def test_vpn_as_moto_reports_it_is_an_error_not_a_pass(world, control_id):
    # moto returns neither VgwTelemetry nor TunnelOptions.
    result = results(world, control_id)[world["vpn"]]

    assert result.status == Status.ERROR


# -- vpc.block-public-access (AWS-shaped answers: moto lacks the call)


def bpa_result(mode: str, region: str = "us-east-1"):
    session = session_in(region)
    options = {
        "AwsAccountId": ACCOUNT_ID,
        "AwsRegion": region,
        "State": "default-state" if mode == "off" else "update-complete",
        "InternetGatewayBlockMode": mode,
        "ManagedBy": "account",
        "ExclusionsAllowed": "allowed",
    }
    answer(
        session,
        "DescribeVpcBlockPublicAccessOptions",
        {"VpcBlockPublicAccessOptions": options},
    )
    records = collect("vpc", region, session=session)
    return evaluate("vpc.block-public-access", records, regions=[region])[region]


@pytest.mark.parametrize("mode", ["block-bidirectional", "block-ingress"])
def test_block_public_access_passes_when_it_blocks(world, mode):
    result = bpa_result(mode)

    assert result.status == Status.PASS
    assert f"InternetGatewayBlockMode is {mode} in us-east-1" in result.reason


def test_block_public_access_off_fails_and_names_the_gateways(world):
    east = bpa_result("off")
    west = bpa_result("off", region="eu-west-1")

    assert east.status == Status.FAIL
    assert f"{world['igw']} ({world['spread']})" in east.reason
    assert west.status == Status.FAIL
    assert "any internet gateway attached later" in west.reason


def test_block_public_access_unreadable_is_an_error(world):
    # As the moto server answers (see moto_server_500), and as AWS denies.
    unsupported = results(world, "vpc.block-public-access")["us-east-1"]
    session = session_in()
    deny(session, "ec2", "DescribeVpcBlockPublicAccessOptions")
    denied = evaluate("vpc.block-public-access", collect("vpc", session=session))

    assert unsupported.status == Status.ERROR
    assert denied["us-east-1"].status == Status.ERROR
    assert "access_denied" in denied["us-east-1"].reason
