"""Service "ec2": instances, EBS, images, and the VPC core they live in.

One regional unit collects instances, volumes, snapshots, images, the EBS
encryption-by-default setting, and the networks those sit in: VPCs (with their
flow logs and VPC endpoints), subnets, security groups and network ACLs.
Connectivity between networks (route tables, gateways, VPN, peering, VPC Block
Public Access) is the "vpc" service, in collectors/services/vpc.py.

Region-wide sub-listings that feed other records (security group rules, flow
logs, VPC endpoints) are read once per region and joined in memory; a failure
there is recorded on every record that needed it, so those controls report
ERROR, not PASS.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from botocore.client import BaseClient

from collectors.base import (
    ERRORS_KEY,
    Collector,
    ResourceRecord,
    register,
    to_jsonable,
)

INSTANCE = "AWS::EC2::Instance"
SECURITY_GROUP = "AWS::EC2::SecurityGroup"
NETWORK_ACL = "AWS::EC2::NetworkAcl"
SUBNET = "AWS::EC2::Subnet"
VOLUME = "AWS::EC2::Volume"
SNAPSHOT = "AWS::EC2::Snapshot"
IMAGE = "AWS::EC2::Image"
VPC = "AWS::EC2::VPC"
EBS_DEFAULT_ENCRYPTION = "AWS::EC2::EBSDefaultEncryption"

# Everything except "terminated": a terminated instance is gone for good and
# only lingers in the API for about an hour.
LIVE_INSTANCE_STATES = ["pending", "running", "shutting-down", "stopping", "stopped"]


def tag_dict(tags: Iterable[dict] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in tags or ()}


def without_keys(item: dict, *keys: str) -> dict:
    return {k: v for k, v in item.items() if k not in keys}


class EC2APICollector(Collector):
    """Helpers shared by the collectors that read the EC2 API ("ec2", "vpc")."""

    def _arn(self, kind: str, resource_id: str, *, with_account: bool = True) -> str:
        partition = self.session.get_partition_for_region(self.client_region)
        account = self.account_id if with_account else ""
        return (
            f"arn:{partition}:ec2:{self.client_region}:{account}:{kind}/{resource_id}"
        )

    def _record(
        self,
        resource_type: str,
        resource_id: str,
        item: dict,
        arn: str,
        errors: dict[str, str] | None = None,
        name: str | None = None,
    ) -> ResourceRecord:
        config = to_jsonable(item)
        if errors:
            config[ERRORS_KEY] = dict(errors)
        tags = tag_dict(item.get("Tags"))
        return ResourceRecord(
            resource_type=resource_type,
            resource_id=resource_id,
            config=config,
            arn=arn,
            name=name if name is not None else tags.get("Name", ""),
            tags=tags,
        )


@register
class EC2Collector(EC2APICollector):
    service = "ec2"
    resource_types = (
        INSTANCE,
        SECURITY_GROUP,
        NETWORK_ACL,
        SUBNET,
        VOLUME,
        SNAPSHOT,
        IMAGE,
        VPC,
        EBS_DEFAULT_ENCRYPTION,
    )
    #: DescribeInstances page size (AWS allows 5-1000). An explicit page keeps
    #: every response bounded on large fleets.
    instance_page_size = 1000
    #: Page size of the other listings. Without one, most EC2 Describe calls
    #: answer with everything at once, parsed into one list before the first
    #: record is stored: a worker's memory would grow with the fleet.
    #: DescribeVolumes accepts at most 500; the others 1000.
    page_size = 500

    @property
    def _pages(self) -> dict[str, int]:
        return {"PageSize": self.page_size}

    def collect(self) -> Iterator[ResourceRecord]:
        ec2 = self.client("ec2")
        yield self._ebs_default_encryption(ec2)
        yield from self._vpcs(ec2)
        yield from self._subnets(ec2)
        yield from self._security_groups(ec2)
        yield from self._network_acls(ec2)
        yield from self._instances(ec2)
        yield from self._volumes(ec2)
        yield from self._snapshots(ec2)
        yield from self._images(ec2)

    # -- region-level setting

    def _ebs_default_encryption(self, ec2: BaseClient) -> ResourceRecord:
        # Recorded even when the call fails, so the region's finding is ERROR
        # rather than missing.
        errors: dict[str, str] = {}
        response = self.optional(
            errors, "EbsEncryptionByDefault", ec2.get_ebs_encryption_by_default
        )
        config: dict[str, Any] = {}
        if response is not None:
            config["EbsEncryptionByDefault"] = bool(response["EbsEncryptionByDefault"])
        return self._record(
            EBS_DEFAULT_ENCRYPTION,
            self.client_region,
            config,
            arn="",
            errors=errors,
            name=f"EBS encryption by default ({self.client_region})",
        )

    # -- networks

    def _vpcs(self, ec2: BaseClient) -> Iterator[ResourceRecord]:
        shared_errors: dict[str, str] = {}
        flow_logs = self.gather(
            shared_errors,
            "FlowLogs",
            ec2,
            "describe_flow_logs",
            "FlowLogs",
            PaginationConfig=self._pages,
        )
        logs_by_resource: dict[str, list[dict]] = defaultdict(list)
        for flow_log in flow_logs or ():
            logs_by_resource[flow_log.get("ResourceId", "")].append(flow_log)
        endpoints = self.gather(
            shared_errors,
            "VpcEndpoints",
            ec2,
            "describe_vpc_endpoints",
            "VpcEndpoints",
            PaginationConfig=self._pages,
        )
        endpoints_by_vpc: dict[str, list[dict]] = defaultdict(list)
        for endpoint in endpoints or ():
            # A deleted endpoint lingers in the listing for a while; it is
            # gone, not a change of the VPC's configuration.
            if str(endpoint.get("State", "")).lower() != "deleted":
                endpoints_by_vpc[endpoint.get("VpcId", "")].append(endpoint)

        vpcs = self.paginate(ec2, "describe_vpcs", "Vpcs", PaginationConfig=self._pages)
        for vpc in vpcs:
            vpc_id = vpc["VpcId"]
            errors = dict(shared_errors)
            item = dict(vpc)
            if flow_logs is not None:
                item["FlowLogs"] = sorted(
                    logs_by_resource.get(vpc_id, []), key=lambda f: f["FlowLogId"]
                )
            if endpoints is not None:
                item["VpcEndpoints"] = sorted(
                    endpoints_by_vpc.get(vpc_id, []), key=lambda e: e["VpcEndpointId"]
                )
            has_enis = self.optional(
                errors,
                "HasNetworkInterfaces",
                self._has_network_interfaces,
                ec2=ec2,
                vpc_id=vpc_id,
            )
            if has_enis is not None:
                item["HasNetworkInterfaces"] = has_enis["HasNetworkInterfaces"]
            yield self._record(VPC, vpc_id, item, self._arn("vpc", vpc_id), errors)

    def _has_network_interfaces(self, ec2: BaseClient, vpc_id: str) -> dict:
        # A yes/no rather than the interfaces themselves: the list churns with
        # every launch and would write a new snapshot on each scan. Filtered
        # pages may come back empty with a NextToken, so keep paging until the
        # first interface (or the end).
        interfaces = self.paginate(
            ec2,
            "describe_network_interfaces",
            "NetworkInterfaces",
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}],
            PaginationConfig={"PageSize": 5},
        )
        return {"HasNetworkInterfaces": next(iter(interfaces), None) is not None}

    def _subnets(self, ec2: BaseClient) -> Iterator[ResourceRecord]:
        subnets = self.paginate(
            ec2, "describe_subnets", "Subnets", PaginationConfig=self._pages
        )
        for subnet in subnets:
            subnet_id = subnet["SubnetId"]
            # The free-address count moves with every launch: not configuration.
            item = without_keys(subnet, "AvailableIpAddressCount")
            arn = subnet.get("SubnetArn") or self._arn("subnet", subnet_id)
            yield self._record(SUBNET, subnet_id, item, arn)

    def _security_groups(self, ec2: BaseClient) -> Iterator[ResourceRecord]:
        shared_errors: dict[str, str] = {}
        rules = self.gather(
            shared_errors,
            "SecurityGroupRules",
            ec2,
            "describe_security_group_rules",
            "SecurityGroupRules",
            PaginationConfig=self._pages,
        )
        rules_by_group: dict[str, list[dict]] = defaultdict(list)
        for rule in rules or ():
            rules_by_group[rule["GroupId"]].append(rule)

        groups = self.paginate(
            ec2,
            "describe_security_groups",
            "SecurityGroups",
            PaginationConfig=self._pages,
        )
        for group in groups:
            group_id = group["GroupId"]
            item = dict(group)
            if rules is not None:
                item["SecurityGroupRules"] = sorted(
                    rules_by_group.get(group_id, []),
                    key=lambda r: r["SecurityGroupRuleId"],
                )
            arn = group.get("SecurityGroupArn") or self._arn("security-group", group_id)
            yield self._record(
                SECURITY_GROUP,
                group_id,
                item,
                arn,
                shared_errors,
                name=group.get("GroupName", ""),
            )

    def _network_acls(self, ec2: BaseClient) -> Iterator[ResourceRecord]:
        acls = self.paginate(
            ec2, "describe_network_acls", "NetworkAcls", PaginationConfig=self._pages
        )
        for acl in acls:
            acl_id = acl["NetworkAclId"]
            item = dict(acl)
            # Evaluation order is by rule number; store entries that way so a
            # reordered response is not a configuration change.
            item["Entries"] = sorted(
                acl.get("Entries", []),
                key=lambda e: (bool(e.get("Egress")), e.get("RuleNumber", 0)),
            )
            item["Associations"] = sorted(
                acl.get("Associations", []), key=lambda a: a.get("SubnetId", "")
            )
            yield self._record(
                NETWORK_ACL, acl_id, item, self._arn("network-acl", acl_id)
            )

    # -- compute

    def _instances(self, ec2: BaseClient) -> Iterator[ResourceRecord]:
        reservations = self.paginate(
            ec2,
            "describe_instances",
            "Reservations",
            Filters=[{"Name": "instance-state-name", "Values": LIVE_INSTANCE_STATES}],
            PaginationConfig={"PageSize": self.instance_page_size},
        )
        for reservation in reservations:
            for instance in reservation.get("Instances", []):
                instance_id = instance["InstanceId"]
                yield self._record(
                    INSTANCE, instance_id, instance, self._arn("instance", instance_id)
                )

    # -- block storage and images

    def _volumes(self, ec2: BaseClient) -> Iterator[ResourceRecord]:
        volumes = self.paginate(
            ec2, "describe_volumes", "Volumes", PaginationConfig=self._pages
        )
        for volume in volumes:
            volume_id = volume["VolumeId"]
            yield self._record(
                VOLUME, volume_id, volume, self._arn("volume", volume_id)
            )

    def _snapshots(self, ec2: BaseClient) -> Iterator[ResourceRecord]:
        snapshots = self.paginate(
            ec2,
            "describe_snapshots",
            "Snapshots",
            OwnerIds=["self"],
            PaginationConfig=self._pages,
        )
        for snapshot in snapshots:
            # AWS already filters on the owner; the check keeps a simulator
            # that ignores "self" from passing off other accounts' snapshots.
            if snapshot.get("OwnerId", self.account_id) != self.account_id:
                continue
            snapshot_id = snapshot["SnapshotId"]
            errors: dict[str, str] = {}
            response = self.optional(
                errors,
                "CreateVolumePermissions",
                ec2.describe_snapshot_attribute,
                absent=("InvalidSnapshot.NotFound",),
                SnapshotId=snapshot_id,
                Attribute="createVolumePermission",
            )
            if response is None and not errors:
                continue  # deleted between the listing and the attribute call
            item = dict(snapshot)
            if response is not None:
                item["CreateVolumePermissions"] = sorted(
                    response.get("CreateVolumePermissions", []),
                    key=lambda p: (p.get("Group", ""), p.get("UserId", "")),
                )
            # Snapshot ARNs carry no account id.
            arn = self._arn("snapshot", snapshot_id, with_account=False)
            yield self._record(SNAPSHOT, snapshot_id, item, arn, errors)

    def _images(self, ec2: BaseClient) -> Iterator[ResourceRecord]:
        images = self.paginate(
            ec2,
            "describe_images",
            "Images",
            Owners=["self"],
            PaginationConfig=self._pages,
        )
        for image in images:
            if image.get("OwnerId", self.account_id) != self.account_id:
                continue
            image_id = image["ImageId"]
            # LastLaunchedTime changes whenever anyone launches the image.
            item = without_keys(image, "LastLaunchedTime")
            name = image.get("Name") or tag_dict(image.get("Tags")).get("Name", "")
            arn = self._arn("image", image_id, with_account=False)
            yield self._record(IMAGE, image_id, item, arn, name=name)
