"""Service "vpc": how networks connect, to each other and to the internet.

One regional unit collects route tables, internet gateways, VPC peering
connections, Site-to-Site VPN connections and the region's VPC Block Public
Access options. The networks themselves (VPCs, subnets, security groups,
network ACLs, VPC endpoints) belong to the "ec2" service in
collectors/services/ec2.py, which also collects the instances in them.

VPC Block Public Access is a region-level setting: its record is emitted even
when the call fails, with the failure under ``_errors``, so its control reports
ERROR for that region instead of having no finding. VPN connections are stored
without their pre-shared keys.
"""

from collections.abc import Iterator

from botocore.client import BaseClient

from collectors.base import ResourceRecord, register
from collectors.services.ec2 import EC2APICollector, without_keys

ROUTE_TABLE = "AWS::EC2::RouteTable"
INTERNET_GATEWAY = "AWS::EC2::InternetGateway"
PEERING_CONNECTION = "AWS::EC2::VPCPeeringConnection"
VPN_CONNECTION = "AWS::EC2::VPNConnection"
BLOCK_PUBLIC_ACCESS = "AWS::EC2::VPCBlockPublicAccessOptions"

BLOCK_PUBLIC_ACCESS_KEY = "VpcBlockPublicAccessOptions"
# Peering connections in these states no longer connect anything and drop out
# of the listing after a while.
ENDED_PEERING_STATES = {"deleted", "rejected", "failed", "expired"}
# Tunnel health worth storing: the rest of VgwTelemetry (route counts, time of
# the last change) moves without any change of configuration.
TELEMETRY_FIELDS = ("OutsideIpAddress", "Status", "CertificateArn")


def _route_destination(route: dict) -> str:
    return (
        route.get("DestinationCidrBlock")
        or route.get("DestinationIpv6CidrBlock")
        or route.get("DestinationPrefixListId")
        or ""
    )


def _telemetry(tunnel: dict) -> dict:
    kept = {k: tunnel[k] for k in TELEMETRY_FIELDS if k in tunnel}
    if tunnel.get("Status") != "UP" and tunnel.get("StatusMessage"):
        # Why a tunnel is down ("IPSEC IS DOWN") helps; an UP tunnel's message
        # counts BGP routes and changes with them.
        kept["StatusMessage"] = tunnel["StatusMessage"]
    return kept


def vpn_without_secrets(vpn: dict) -> dict:
    """A VPN connection as stored: no pre-shared keys, stable telemetry.

    CustomerGatewayConfiguration is the device configuration AWS generates,
    pre-shared keys included; TunnelOptions carry the keys too.
    """
    item = without_keys(vpn, "CustomerGatewayConfiguration")
    options = item.get("Options")
    if options and "TunnelOptions" in options:
        tunnels = [without_keys(t, "PreSharedKey") for t in options["TunnelOptions"]]
        item["Options"] = {
            **options,
            "TunnelOptions": sorted(
                tunnels, key=lambda t: t.get("OutsideIpAddress", "")
            ),
        }
    if "VgwTelemetry" in vpn:
        item["VgwTelemetry"] = sorted(
            (_telemetry(t) for t in vpn["VgwTelemetry"]),
            key=lambda t: t.get("OutsideIpAddress", ""),
        )
    return item


@register
class VPCCollector(EC2APICollector):
    service = "vpc"
    resource_types = (
        ROUTE_TABLE,
        INTERNET_GATEWAY,
        PEERING_CONNECTION,
        VPN_CONNECTION,
        BLOCK_PUBLIC_ACCESS,
    )
    #: Page size of the paginated listings (DescribeRouteTables allows 5-100).
    page_size = 100

    def collect(self) -> Iterator[ResourceRecord]:
        ec2 = self.client("ec2")
        yield self._block_public_access(ec2)
        yield from self._route_tables(ec2)
        yield from self._internet_gateways(ec2)
        yield from self._peering_connections(ec2)
        yield from self._vpn_connections(ec2)

    def _listing(self, ec2: BaseClient, operation: str, result_key: str) -> Iterator:
        return self.paginate(
            ec2,
            operation,
            result_key,
            PaginationConfig={"PageSize": self.page_size},
        )

    # -- region-level setting

    def _block_public_access(self, ec2: BaseClient) -> ResourceRecord:
        errors: dict[str, str] = {}
        # An endpoint without this call (a simulator, an older partition) may
        # answer with an HTML 500 page; optional() records it as unsupported,
        # so the region's setting is unknown and the unit goes on.
        response = self.optional(
            errors,
            BLOCK_PUBLIC_ACCESS_KEY,
            ec2.describe_vpc_block_public_access_options,
        )
        config = {}
        if response is not None:
            config[BLOCK_PUBLIC_ACCESS_KEY] = response.get(BLOCK_PUBLIC_ACCESS_KEY, {})
        return self._record(
            BLOCK_PUBLIC_ACCESS,
            self.client_region,
            config,
            arn="",
            errors=errors,
            name=f"VPC Block Public Access ({self.client_region})",
        )

    # -- routing and gateways

    def _route_tables(self, ec2: BaseClient) -> Iterator[ResourceRecord]:
        for table in self._listing(ec2, "describe_route_tables", "RouteTables"):
            table_id = table["RouteTableId"]
            item = dict(table)
            # Route order carries no meaning (the longest prefix wins).
            item["Routes"] = sorted(
                table.get("Routes", []),
                key=lambda r: (_route_destination(r), r.get("Origin", "")),
            )
            item["Associations"] = sorted(
                table.get("Associations", []),
                key=lambda a: a.get("RouteTableAssociationId", ""),
            )
            yield self._record(
                ROUTE_TABLE, table_id, item, self._arn("route-table", table_id)
            )

    def _internet_gateways(self, ec2: BaseClient) -> Iterator[ResourceRecord]:
        gateways = self._listing(ec2, "describe_internet_gateways", "InternetGateways")
        for gateway in gateways:
            gateway_id = gateway["InternetGatewayId"]
            item = dict(gateway)
            item["Attachments"] = sorted(
                gateway.get("Attachments", []), key=lambda a: a.get("VpcId", "")
            )
            arn = self._arn("internet-gateway", gateway_id)
            yield self._record(INTERNET_GATEWAY, gateway_id, item, arn)

    def _peering_connections(self, ec2: BaseClient) -> Iterator[ResourceRecord]:
        connections = self._listing(
            ec2, "describe_vpc_peering_connections", "VpcPeeringConnections"
        )
        for connection in connections:
            if (connection.get("Status") or {}).get("Code") in ENDED_PEERING_STATES:
                continue
            connection_id = connection["VpcPeeringConnectionId"]
            arn = self._arn("vpc-peering-connection", connection_id)
            yield self._record(PEERING_CONNECTION, connection_id, connection, arn)

    def _vpn_connections(self, ec2: BaseClient) -> Iterator[ResourceRecord]:
        # DescribeVpnConnections has no paging: one call returns them all.
        for vpn in self.paginate(ec2, "describe_vpn_connections", "VpnConnections"):
            if vpn.get("State") == "deleted":
                continue  # lingers for a while after deletion
            vpn_id = vpn["VpnConnectionId"]
            yield self._record(
                VPN_CONNECTION,
                vpn_id,
                vpn_without_secrets(vpn),
                self._arn("vpn-connection", vpn_id),
            )
