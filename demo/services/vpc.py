"""Demo VPC connectivity: zones, endpoints, a peered hub, VPN, gateways.

Runs after demo.seed has built the account's "<profile>-workloads" VPC in each
region (one zone, the account's instances). Placement across zones and VPC
endpoints are judged per VPC, so workloads VPCs are completed in every region;
the shared-services hub, its peering and VPN live in the first region only.

- security: workloads VPCs get a second zone and S3 (Gateway) and EC2
  (Interface) endpoints; a flow-logged, locked-down hub is peered with routes
  that cover exactly the other VPC.
- prod: a second zone, an S3 endpoint but none for EC2; one of the two
  peering routes covers all of 10.0.0.0/8; a Site-to-Site VPN to the office.
- management: a hub with a Site-to-Site VPN (there is no workloads VPC).
- dev: a hub with an internet gateway, and a default route through the
  peering.
- sandbox: as dev, with over-wide peering routes both ways.

The simulator has no VPC Block Public Access and reports no VPN tunnel state
or tunnel options, so those controls show ERROR (unknown) in the demo.
"""

import ipaddress
from typing import TYPE_CHECKING

from botocore.client import BaseClient

if TYPE_CHECKING:
    from demo.seed import _Account

HUB_CIDR = "10.100.0.0/16"
OFFICE_IP = "198.51.100.20"  # the customer gateway: the office's public address
ADMIN_PORTS = (22, 3389)
# Where the workloads VPC sends traffic for the hub, per profile.
RETURN_ROUTE = {
    "security": HUB_CIDR,
    "prod": "10.0.0.0/8",
    "dev": "0.0.0.0/0",
    "sandbox": "10.0.0.0/8",
}


def seed(account: "_Account", profile: str, region: str) -> None:
    ec2 = account.client("ec2", region)
    workloads = _find_vpc(ec2, f"{profile}-workloads")
    if workloads and profile in ("security", "prod"):
        _second_zone(ec2, workloads, region)
        _endpoints(ec2, workloads, region, interface=profile == "security")
    if region != account.primary:
        return
    hub = _hub(ec2, profile, region)
    if profile == "security":
        _lock_down(ec2, hub, account.bucket("logs"))
    if profile in ("dev", "sandbox"):
        gateway = ec2.create_internet_gateway(
            TagSpecifications=_name("internet-gateway", f"{profile}-hub-igw")
        )["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=hub)
    if workloads:
        _peer(ec2, profile, hub, workloads)
    if profile in ("prod", "management"):
        _office_vpn(ec2, profile, hub)


def _name(resource_type: str, name: str) -> list[dict]:
    return [{"ResourceType": resource_type, "Tags": [{"Key": "Name", "Value": name}]}]


def _find_vpc(ec2: BaseClient, name: str) -> dict | None:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [name]}])
    return next(iter(vpcs["Vpcs"]), None)


def _second_zone(ec2: BaseClient, vpc: dict, region: str) -> None:
    # demo.seed uses the VPC's first /24s; take one well clear of them.
    cidr = list(ipaddress.ip_network(vpc["CidrBlock"]).subnets(new_prefix=24))[11]
    ec2.create_subnet(
        VpcId=vpc["VpcId"],
        CidrBlock=str(cidr),
        AvailabilityZone=f"{region}b",
        TagSpecifications=_name("subnet", f"{_vpc_name(vpc)}-private-b"),
    )


def _vpc_name(vpc: dict) -> str:
    return next((t["Value"] for t in vpc.get("Tags", []) if t["Key"] == "Name"), "")


def _endpoints(ec2: BaseClient, vpc: dict, region: str, *, interface: bool) -> None:
    vpc_id = vpc["VpcId"]
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    ec2.create_vpc_endpoint(
        VpcId=vpc_id,
        VpcEndpointType="Gateway",
        ServiceName=f"com.amazonaws.{region}.s3",
        RouteTableIds=[t["RouteTableId"] for t in tables["RouteTables"]],
        TagSpecifications=_name("vpc-endpoint", f"{_vpc_name(vpc)}-s3"),
    )
    if interface:
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
        # An interface endpoint takes at most one subnet per zone.
        per_zone = {s["AvailabilityZone"]: s["SubnetId"] for s in subnets["Subnets"]}
        ec2.create_vpc_endpoint(
            VpcId=vpc_id,
            VpcEndpointType="Interface",
            ServiceName=f"com.amazonaws.{region}.ec2",
            SubnetIds=sorted(per_zone.values()),
            PrivateDnsEnabled=True,
            TagSpecifications=_name("vpc-endpoint", f"{_vpc_name(vpc)}-ec2-api"),
        )


def _hub(ec2: BaseClient, profile: str, region: str) -> str:
    hub = ec2.create_vpc(
        CidrBlock=HUB_CIDR,
        TagSpecifications=_name("vpc", f"{profile}-shared-services"),
    )["Vpc"]["VpcId"]
    ec2.create_subnet(
        VpcId=hub,
        CidrBlock="10.100.1.0/24",
        AvailabilityZone=f"{region}a",
        TagSpecifications=_name("subnet", f"{profile}-shared-services-a"),
    )
    return hub


def _lock_down(ec2: BaseClient, vpc_id: str, log_bucket: str) -> None:
    """Flow logs, an empty default security group, no SSH/RDP from anywhere."""
    created = ec2.create_flow_logs(
        ResourceIds=[vpc_id],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="s3",
        LogDestination=f"arn:aws:s3:::{log_bucket}",
    )
    if created["Unsuccessful"]:
        raise RuntimeError(f"flow logs not created: {created['Unsuccessful']}")
    (group,) = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"]
    if group["IpPermissionsEgress"]:
        ec2.revoke_security_group_egress(
            GroupId=group["GroupId"], IpPermissions=group["IpPermissionsEgress"]
        )
    if group["IpPermissions"]:
        ec2.revoke_security_group_ingress(
            GroupId=group["GroupId"], IpPermissions=group["IpPermissions"]
        )
    (acl,) = ec2.describe_network_acls(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "default", "Values": ["true"]},
        ]
    )["NetworkAcls"]
    for number, port in enumerate(ADMIN_PORTS, start=90):
        ec2.create_network_acl_entry(
            NetworkAclId=acl["NetworkAclId"],
            RuleNumber=number,
            Protocol="6",
            RuleAction="deny",
            Egress=False,
            CidrBlock="0.0.0.0/0",
            PortRange={"From": port, "To": port},
        )


def _peer(ec2: BaseClient, profile: str, hub: str, workloads: dict) -> None:
    pcx = ec2.create_vpc_peering_connection(
        VpcId=workloads["VpcId"],
        PeerVpcId=hub,
        TagSpecifications=_name("vpc-peering-connection", f"{profile}-hub-peering"),
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    tables = ec2.describe_route_tables(
        Filters=[
            {"Name": "vpc-id", "Values": [hub, workloads["VpcId"]]},
            {"Name": "association.main", "Values": ["true"]},
        ]
    )["RouteTables"]
    main = {t["VpcId"]: t["RouteTableId"] for t in tables}
    to_workloads = "10.0.0.0/8" if profile == "sandbox" else workloads["CidrBlock"]
    for vpc_id, destination in (
        (hub, to_workloads),
        (workloads["VpcId"], RETURN_ROUTE[profile]),
    ):
        ec2.create_route(
            RouteTableId=main[vpc_id],
            DestinationCidrBlock=destination,
            VpcPeeringConnectionId=pcx,
        )


def _office_vpn(ec2: BaseClient, profile: str, hub: str) -> None:
    customer = ec2.create_customer_gateway(
        Type="ipsec.1",
        PublicIp=OFFICE_IP,
        BgpAsn=65010,
        TagSpecifications=_name("customer-gateway", f"{profile}-office"),
    )["CustomerGateway"]["CustomerGatewayId"]
    gateway = ec2.create_vpn_gateway(
        Type="ipsec.1", TagSpecifications=_name("vpn-gateway", f"{profile}-vgw")
    )["VpnGateway"]["VpnGatewayId"]
    ec2.attach_vpn_gateway(VpnGatewayId=gateway, VpcId=hub)
    ec2.create_vpn_connection(
        Type="ipsec.1",
        CustomerGatewayId=customer,
        VpnGatewayId=gateway,
        TagSpecifications=_name("vpn-connection", f"{profile}-office-vpn"),
    )
