"""VPC controls: flow logs, subnets, placement across AZs, routing, gateways, VPN.

VPCs and subnets come from the "ec2" collector (with the instances in them);
route tables, peering connections, internet gateways, VPN connections and VPC
Block Public Access from the "vpc" collector.
"""

import ipaddress

from findings.controls.base import (
    Context,
    NotEvaluable,
    ResourceView,
    Result,
    Severity,
    control,
    failed,
    not_applicable,
    passed,
)
from findings.controls.ec2 import ANY_IPV4, ANY_IPV6, INSTANCE, listing

VPC = "AWS::EC2::VPC"
SUBNET = "AWS::EC2::Subnet"
ROUTE_TABLE = "AWS::EC2::RouteTable"
PEERING_CONNECTION = "AWS::EC2::VPCPeeringConnection"
INTERNET_GATEWAY = "AWS::EC2::InternetGateway"
VPN_CONNECTION = "AWS::EC2::VPNConnection"
BLOCK_PUBLIC_ACCESS = "AWS::EC2::VPCBlockPublicAccessOptions"

# The AWS services a VPC's instances should reach privately, and the endpoint
# type for each (the ec2 half of Security Hub EC2.10, and S3's gateway).
PRIVATE_SERVICE_ENDPOINTS = (("s3", "Gateway"), ("ec2", "Interface"))
BLOCKING_MODES = ("block-bidirectional", "block-ingress")


def _instances_in(r: ResourceView, ctx: Context) -> list[ResourceView]:
    """The live instances of the VPC ``r`` (the collector skips terminated ones)."""
    return [
        i
        for i in ctx.resources(INSTANCE, region=r.region)
        if i.config.get("VpcId") == r.resource_id
    ]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# -- VPCs and subnets


@control(
    id="vpc.flow-logs-enabled",
    title="VPC flow logging is enabled in every VPC",
    section="network/vpc",
    severity=Severity.MEDIUM,
    resource_type=VPC,
    rationale=(
        "A VPC is an isolated network the customer runs. Flow logs record the "
        "traffic that reaches it, including rejected attempts, which incident "
        "responders need to see who probed or reached what."
    ),
    remediation=(
        "VPC console → Your VPCs → select the VPC → Flow logs tab → Create flow "
        "log → Filter: Reject (or All) → destination CloudWatch Logs or S3 → "
        "Create flow log."
    ),
    remediation_cli=(
        "aws ec2 create-flow-logs --resource-type VPC --resource-ids <vpc-id> "
        "--traffic-type REJECT --log-destination-type cloud-watch-logs "
        "--log-group-name <log-group> --deliver-logs-permission-arn <role-arn>"
    ),
    cis=("3.7", "3.7"),
    security_hub=("EC2.6",),
)
def vpc_flow_logs_enabled(r: ResourceView, ctx: Context) -> Result:
    flow_logs = r.field("FlowLogs")
    if flow_logs is None:
        raise NotEvaluable("flow logs missing from the collected VPC")
    problems = []
    for flow_log in flow_logs:
        flow_id = flow_log.get("FlowLogId", "flow log")
        status, traffic = flow_log.get("FlowLogStatus"), flow_log.get("TrafficType")
        if status != "ACTIVE":
            problems.append(f"{flow_id} is {status or 'not active'}")
        elif traffic not in ("ALL", "REJECT"):
            problems.append(f"{flow_id} captures {traffic} traffic only")
        else:
            return passed(
                f"flow log {flow_id} is active and captures {traffic} traffic"
            )
    if problems:
        return failed(f"no usable flow log: {listing(problems)}")
    return failed("no flow log is attached to the VPC")


@control(
    id="vpc.subnet.no-auto-public-ip",
    title="Subnets do not auto-assign public IPv4 addresses",
    section="network/vpc/subnets-route-tables",
    severity=Severity.MEDIUM,
    resource_type=SUBNET,
    rationale=(
        "Each subnet's settings decide how its instances reach and are reached "
        "from outside. A subnet that hands every new instance a public IPv4 "
        "address makes internet exposure the default rather than a decision."
    ),
    remediation=(
        "VPC console → Subnets → select the subnet → Actions → Edit subnet "
        "settings → untick Enable auto-assign public IPv4 address → Save."
    ),
    remediation_cli=(
        "aws ec2 modify-subnet-attribute --subnet-id <subnet-id> "
        "--no-map-public-ip-on-launch"
    ),
    security_hub=("EC2.15",),
)
def subnet_no_auto_public_ip(r: ResourceView, ctx: Context) -> Result:
    if r.config.get("MapPublicIpOnLaunch"):
        return failed(
            "MapPublicIpOnLaunch is true: every instance launched here gets a "
            "public IPv4 address"
        )
    return passed("MapPublicIpOnLaunch is false")


# -- placement across Availability Zones


def _zone_label(subnet: ResourceView) -> str:
    zone_id = subnet.config.get("AvailabilityZoneId")
    zone = subnet.config.get("AvailabilityZone")
    if zone_id and zone:
        return f"{zone_id} ({zone})"
    return zone_id or zone or ""


@control(
    id="resilience.vpc.multi-az-subnets",
    title="Workload VPCs have subnets in 2+ AZs",
    section="business-continuity/availability/multi-az",
    severity=Severity.MEDIUM,
    resource_type=VPC,
    rationale=(
        "AWS lets customers place instances in several Availability Zones, and "
        "spreading an application across them makes it resilient to most "
        "failure modes. A VPC whose subnets all sit in one zone cannot do that: "
        "its workloads go down with the zone."
    ),
    remediation=(
        "VPC console → Subnets → Create subnet → choose the VPC → pick an "
        "Availability Zone the VPC has no subnet in, give it an unused CIDR "
        "block → Create subnet; associate it with the route table the existing "
        "subnets use, then spread the instances (or their Auto Scaling group) "
        "across both zones."
    ),
    remediation_cli=(
        "aws ec2 create-subnet --vpc-id <vpc-id> --cidr-block <unused-cidr> "
        "--availability-zone-id <second-az-id>"
    ),
)
def vpc_multi_az_subnets(r: ResourceView, ctx: Context) -> Result:
    instances = _instances_in(r, ctx)
    if not instances:
        return not_applicable("VPC holds no instances")
    zones = sorted(
        {
            _zone_label(s)
            for s in ctx.resources(SUBNET, region=r.region)
            if s.config.get("VpcId") == r.resource_id
        }
        - {""}
    )
    held = _count(len(instances), "instance")
    if len(zones) >= 2:
        return passed(
            f"subnets in {len(zones)} Availability Zones ({', '.join(zones)}) "
            f"for {held}"
        )
    if not zones:
        return failed(f"VPC holds {held} but no subnet was collected for it")
    return failed(
        f"every subnet is in {zones[0]}: the {held} in this VPC cannot be "
        "spread across Availability Zones"
    )


# -- private access to AWS services


def _service_names(region: str, service: str) -> set[str]:
    # China regions prefix endpoint service names with "cn.".
    name = f"com.amazonaws.{region}.{service}"
    return {name, f"cn.{name}"}


def _endpoint_gap(endpoints: list[dict], region: str, service: str, kind: str) -> str:
    """Why the VPC lacks a usable endpoint for ``service`` ("" when it has one)."""
    names = _service_names(region, service)
    matching = [e for e in endpoints if e.get("ServiceName") in names]
    for endpoint in matching:
        available = str(endpoint.get("State", "")).lower() == "available"
        if available and endpoint.get("VpcEndpointType") == kind:
            return ""
    wanted = f"com.amazonaws.{region}.{service}"
    if not matching:
        return f"no {kind} endpoint for {wanted}"
    found = ", ".join(
        f"{e.get('VpcEndpointId')}: {e.get('VpcEndpointType')}, "
        f"{str(e.get('State', 'unknown')).lower()}"
        for e in matching
    )
    return f"no available {kind} endpoint for {wanted} ({found})"


@control(
    id="vpc.endpoints.private-service-access",
    title="VPCs reach S3 and EC2 APIs through VPC endpoints",
    section="network/vpc",
    severity=Severity.LOW,
    resource_type=VPC,
    rationale=(
        "A VPC is an isolated network with private addressing. VPC endpoints "
        "let its instances reach S3 and the EC2 API over the AWS network "
        "without an internet gateway or NAT, and give a place to restrict that "
        "access with endpoint policies."
    ),
    remediation=(
        "VPC console → Endpoints → Create endpoint → AWS services → "
        "com.amazonaws.<region>.s3 of type Gateway → choose the VPC and its "
        "route tables → Create endpoint. Again for com.amazonaws.<region>.ec2 "
        "of type Interface → choose the VPC, a subnet per Availability Zone and "
        "a security group allowing HTTPS from the VPC, with private DNS enabled."
    ),
    remediation_cli=(
        "aws ec2 create-vpc-endpoint --vpc-id <vpc-id> --vpc-endpoint-type "
        "Gateway --service-name com.amazonaws.<region>.s3 --route-table-ids "
        "<rtb-id> && aws ec2 create-vpc-endpoint --vpc-id <vpc-id> "
        "--vpc-endpoint-type Interface --service-name com.amazonaws.<region>.ec2 "
        "--subnet-ids <subnet-id> --security-group-ids <sg-id> "
        "--private-dns-enabled"
    ),
    security_hub=("EC2.10",),
)
def vpc_private_service_access(r: ResourceView, ctx: Context) -> Result:
    instances = _instances_in(r, ctx)
    if not instances:
        return not_applicable("VPC holds no instances")
    endpoints = r.field("VpcEndpoints")
    if endpoints is None:
        raise NotEvaluable("VPC endpoints missing from the collected VPC")
    gaps = [
        gap
        for service, kind in PRIVATE_SERVICE_ENDPOINTS
        if (gap := _endpoint_gap(endpoints, r.region, service, kind))
    ]
    if gaps:
        held = _count(len(instances), "instance")
        return failed(f"{'; '.join(gaps)} (the VPC holds {held})")
    return passed(
        f"available Gateway endpoint for com.amazonaws.{r.region}.s3 and "
        f"Interface endpoint for com.amazonaws.{r.region}.ec2"
    )


# -- peering routes


def _peer_side(connection: dict, vpc_id: str) -> dict | None:
    """The VpcInfo of the other end of a peering, seen from ``vpc_id``."""
    requester = connection.get("RequesterVpcInfo") or {}
    accepter = connection.get("AccepterVpcInfo") or {}
    if requester.get("VpcId") == vpc_id:
        return accepter
    if accepter.get("VpcId") == vpc_id:
        return requester
    return None


def _cidrs(info: dict) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    blocks = {info.get("CidrBlock")}
    blocks |= {b.get("CidrBlock") for b in info.get("CidrBlockSet") or []}
    blocks |= {b.get("Ipv6CidrBlock") for b in info.get("Ipv6CidrBlockSet") or []}
    return [ipaddress.ip_network(b, strict=False) for b in sorted(blocks - {None})]


def _inside(destination: str, cidrs: list) -> bool:
    network = ipaddress.ip_network(destination, strict=False)
    return any(network.version == c.version and network.subnet_of(c) for c in cidrs)


@control(
    id="vpc.peering.least-access-routes",
    title="VPC peering routes are least access",
    section="network/vpc/subnets-route-tables",
    severity=Severity.MEDIUM,
    resource_type=ROUTE_TABLE,
    rationale=(
        "Every subnet's route table decides where its traffic goes. A peering "
        "route should cover only the peer VPC's addresses a workload needs; a "
        "default route or a range wider than the peer VPC sends traffic to the "
        "peer that was never meant to leave the VPC."
    ),
    remediation=(
        "VPC console → Route tables → select the route table → Routes → Edit "
        "routes → replace the 0.0.0.0/0, ::/0 or over-wide destination that "
        "targets the peering connection with the peer VPC's CIDR blocks (or "
        "only the subnets needed) → Save changes."
    ),
    remediation_cli=(
        "aws ec2 delete-route --route-table-id <rtb-id> --destination-cidr-block "
        "<wide-cidr> && aws ec2 create-route --route-table-id <rtb-id> "
        "--destination-cidr-block <peer-subnet-cidr> --vpc-peering-connection-id "
        "<pcx-id>"
    ),
    cis=("5.5", "5.6"),
)
def peering_least_access_routes(r: ResourceView, ctx: Context) -> Result:
    routes = [
        route
        for route in r.config.get("Routes") or []
        if route.get("VpcPeeringConnectionId")
    ]
    if not routes:
        return passed("no route targets a VPC peering connection")
    connections = {
        c.resource_id: c.config for c in ctx.resources(PEERING_CONNECTION, r.region)
    }
    problems, unknown = [], []
    for route in routes:
        pcx = route["VpcPeeringConnectionId"]
        destination = route.get("DestinationCidrBlock") or route.get(
            "DestinationIpv6CidrBlock"
        )
        if destination in (ANY_IPV4, ANY_IPV6):
            problems.append(f"{destination} → {pcx} sends all traffic to the peer")
            continue
        if route.get("State") == "blackhole":
            continue  # the peering is gone: the route carries nothing
        if destination is None:
            unknown.append(
                f"prefix list {route.get('DestinationPrefixListId')} → {pcx} "
                "cannot be compared with the peer VPC's CIDR blocks"
            )
            continue
        peer = _peer_side(connections.get(pcx) or {}, r.config.get("VpcId"))
        cidrs = _cidrs(peer) if peer else []
        if not cidrs:
            unknown.append(f"the peer VPC's CIDR blocks behind {pcx} are unknown")
        elif not _inside(destination, cidrs):
            problems.append(
                f"{destination} → {pcx} is wider than peer VPC "
                f"{peer.get('VpcId')} ({', '.join(str(c) for c in cidrs)})"
            )
    if problems:
        return failed(listing(problems))
    if unknown:
        raise NotEvaluable(listing(unknown))
    return passed(
        f"every peering route ({len(routes)}) stays inside the peer VPC's CIDR blocks"
    )


# -- Site-to-Site VPN


@control(
    id="vpn.tunnels-up",
    title="Both tunnels of each Site-to-Site VPN are up",
    section="network/vpc/virtual-private-gateway",
    severity=Severity.MEDIUM,
    resource_type=VPN_CONNECTION,
    rationale=(
        "A Site-to-Site VPN gives the VPC private connectivity to another "
        "network over two tunnels, so that one can fail while the other keeps "
        "the link up. With a tunnel down the connection has no redundancy left; "
        "with both down, the private path is gone."
    ),
    remediation=(
        "VPC console → Site-to-Site VPN connections → select the connection → "
        "Tunnel details shows which tunnel is down → Download configuration for "
        "the customer gateway device and apply the missing tunnel's settings "
        "(IKE, IPsec, BGP) on the device; check that its firewall allows UDP "
        "500/4500 from the tunnel's outside address."
    ),
    remediation_cli=(
        "aws ec2 get-vpn-connection-device-sample-configuration "
        "--vpn-connection-id <vpn-id> --vpn-connection-device-type-id "
        "<device-type-id>"
    ),
    security_hub=("EC2.20",),
)
def vpn_tunnels_up(r: ResourceView, ctx: Context) -> Result:
    state = r.config.get("State", "")
    if state != "available":
        return not_applicable(
            f"VPN connection is {state or 'in an unknown state'}; only available "
            "connections are evaluated"
        )
    telemetry = r.config.get("VgwTelemetry")
    if not telemetry:
        raise NotEvaluable("describe_vpn_connections returned no tunnel telemetry")
    down = [
        f"tunnel {t.get('OutsideIpAddress', '?')} is {t.get('Status') or 'unknown'}"
        + (f" ({t['StatusMessage']})" if t.get("StatusMessage") else "")
        for t in telemetry
        if t.get("Status") != "UP"
    ]
    if down:
        return failed(listing(down))
    if len(telemetry) < 2:
        return failed(f"only {_count(len(telemetry), 'tunnel')} reported, and up")
    addresses = ", ".join(t.get("OutsideIpAddress", "?") for t in telemetry)
    return passed(f"both tunnels are UP ({addresses})")


def _tunnel_logging(tunnel: dict) -> dict:
    return (tunnel.get("LogOptions") or {}).get("CloudWatchLogOptions") or {}


@control(
    id="vpn.tunnel-logging",
    title="Site-to-Site VPN tunnel logging is enabled",
    section="network/vpc/virtual-private-gateway",
    severity=Severity.MEDIUM,
    resource_type=VPN_CONNECTION,
    rationale=(
        "The VPN is the private path between the VPC and another network. "
        "Tunnel logs in CloudWatch Logs record IKE and IPsec negotiation and "
        "tunnel state changes, which is what shows who connected, and why a "
        "tunnel dropped, when the link is investigated."
    ),
    remediation=(
        "VPC console → Site-to-Site VPN connections → select the connection → "
        "Actions → Modify VPN tunnel options → pick each tunnel's outside IP "
        "address in turn → tick Tunnel activity log, choose a CloudWatch log "
        "group → Save changes."
    ),
    remediation_cli=(
        "aws ec2 modify-vpn-tunnel-options --vpn-connection-id <vpn-id> "
        "--vpn-tunnel-outside-ip-address <tunnel-outside-ip> --tunnel-options "
        "'LogOptions={CloudWatchLogOptions={LogEnabled=true,"
        "LogGroupArn=<log-group-arn>,LogOutputFormat=json}}'"
    ),
    security_hub=("EC2.171",),
)
def vpn_tunnel_logging(r: ResourceView, ctx: Context) -> Result:
    state = r.config.get("State", "")
    if state == "deleting":
        return not_applicable("VPN connection is being deleted")
    tunnels = (r.config.get("Options") or {}).get("TunnelOptions")
    if not tunnels:
        raise NotEvaluable("describe_vpn_connections returned no tunnel options")
    silent = [
        f"tunnel {t.get('OutsideIpAddress', '?')}"
        for t in tunnels
        if not _tunnel_logging(t).get("LogEnabled")
    ]
    if silent:
        return failed(f"tunnel activity logging is off for {listing(silent)}")
    groups = sorted({_tunnel_logging(t).get("LogGroupArn", "") for t in tunnels})
    where = f" to {', '.join(g for g in groups if g)}" if any(groups) else ""
    return passed(f"all {_count(len(tunnels), 'tunnel')} log to CloudWatch Logs{where}")


# -- internet gateways


@control(
    id="vpc.block-public-access",
    title="VPC Block Public Access blocks internet-gateway traffic",
    section="network/vpc/internet-gateway",
    severity=Severity.MEDIUM,
    resource_type=BLOCK_PUBLIC_ACCESS,
    rationale=(
        "An internet gateway connects a VPC directly to the internet. VPC Block "
        "Public Access overrides route tables and security groups region-wide, "
        "so only VPCs and subnets deliberately excluded can be reached through "
        "an internet gateway."
    ),
    remediation=(
        "VPC console (in the region) → Settings → Block public access → Edit "
        "public access settings → turn on Block public access, choose "
        "Bidirectional (or Ingress-only to keep NAT egress) → Save changes. "
        "First add exclusions for the VPCs or subnets that must stay public."
    ),
    remediation_cli=(
        "aws ec2 modify-vpc-block-public-access-options --region <region> "
        "--internet-gateway-block-mode block-ingress"
    ),
    security_hub=("EC2.172",),
)
def vpc_block_public_access(r: ResourceView, ctx: Context) -> Result:
    options = r.field("VpcBlockPublicAccessOptions")
    if options is None:
        raise NotEvaluable("VPC Block Public Access options missing from the record")
    mode = options.get("InternetGatewayBlockMode")
    if mode is None:
        raise NotEvaluable("InternetGatewayBlockMode missing from the options")
    if mode in BLOCKING_MODES:
        return passed(
            f"InternetGatewayBlockMode is {mode} in {r.resource_id}; exclusions "
            "are reviewed separately"
        )
    attached = sorted(
        f"{g.resource_id} ({a.get('VpcId')})"
        for g in ctx.resources(INTERNET_GATEWAY, region=r.region)
        for a in g.config.get("Attachments") or []
        if a.get("State") in ("available", "attached") and a.get("VpcId")
    )
    if len(attached) == 1:
        exposure = f"internet gateway {attached[0]} passes traffic both ways"
    elif attached:
        exposure = f"internet gateways {listing(attached)} pass traffic both ways"
    else:
        exposure = "any internet gateway attached later passes traffic both ways"
    return failed(f"InternetGatewayBlockMode is {mode} in {r.resource_id}: {exposure}")
