"""The "ec2" and "vpc" collectors against moto: records, joins, failures, paging.

Where moto has no answer (VPC Block Public Access) or a thin one (VPN tunnel
options and telemetry), the call is answered in AWS's documented shape by a
botocore ``before-call`` handler, checked against the service model.
"""

import json
from datetime import UTC, datetime

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError
from botocore.validate import ParamValidator

from accounts.aws import forget_credentials, new_session
from collectors.services.ec2 import EC2Collector
from findings.testing import ACCOUNT_ID, collect, deny

INSTANCE = "AWS::EC2::Instance"
SECURITY_GROUP = "AWS::EC2::SecurityGroup"
NETWORK_ACL = "AWS::EC2::NetworkAcl"
SUBNET = "AWS::EC2::Subnet"
VOLUME = "AWS::EC2::Volume"
SNAPSHOT = "AWS::EC2::Snapshot"
IMAGE = "AWS::EC2::Image"
VPC = "AWS::EC2::VPC"
EBS_DEFAULT = "AWS::EC2::EBSDefaultEncryption"
AMI = "ami-12345678"  # any id: moto launches from ids it does not know


@pytest.fixture
def aws():
    """The root ``aws`` mock without AWS managed IAM policies.

    Nothing here uses them, and moto loads them again for every partition on
    every test, which more than doubles the time of these tests.
    """
    from moto import mock_aws

    with mock_aws():
        forget_credentials()
        # new_session shares one parsed copy of the EC2 model across tests.
        yield new_session(region_name="us-east-1")
    forget_credentials()


@pytest.fixture(autouse=True)
def no_default_amis(monkeypatch):
    # In-process moto otherwise loads ~1,300 Amazon AMIs per region backend,
    # which only slows these tests down; the one test about them turns it on.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


def of_type(records, resource_type):
    return {r.resource_id: r for r in records if r.resource_type == resource_type}


def default_subnet(ec2) -> dict:
    subnets = ec2.describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}]
    )["Subnets"]
    return sorted(subnets, key=lambda s: s["AvailabilityZone"])[0]


def launch(ec2, subnet_id: str, **kwargs) -> str:
    instance = ec2.run_instances(
        ImageId=AMI, MinCount=1, MaxCount=1, SubnetId=subnet_id, **kwargs
    )["Instances"][0]
    return instance["InstanceId"]


def canonical(records) -> dict[str, str]:
    return {r.resource_id: json.dumps(r.config, sort_keys=True) for r in records}


def test_fresh_region_yields_the_default_network_and_the_ebs_setting(aws):
    records = collect("ec2", session=aws)

    assert {r.resource_type for r in records} == {
        VPC,
        SUBNET,
        SECURITY_GROUP,
        NETWORK_ACL,
        EBS_DEFAULT,
    }
    setting = of_type(records, EBS_DEFAULT)["us-east-1"]
    assert setting.config == {"EbsEncryptionByDefault": False}
    assert setting.region == "us-east-1"

    (vpc,) = of_type(records, VPC).values()
    assert vpc.config["IsDefault"] is True
    assert vpc.config["FlowLogs"] == []
    assert vpc.config["HasNetworkInterfaces"] is False
    assert vpc.config["VpcEndpoints"] == []
    assert vpc.arn == f"arn:aws:ec2:us-east-1:{ACCOUNT_ID}:vpc/{vpc.resource_id}"

    (group,) = of_type(records, SECURITY_GROUP).values()
    assert group.name == "default"
    assert group.config["VpcId"] == vpc.resource_id
    assert [rule["IsEgress"] for rule in group.config["SecurityGroupRules"]] == [True]

    (acl,) = of_type(records, NETWORK_ACL).values()
    assert acl.config["IsDefault"] is True
    assert acl.arn.endswith(f":network-acl/{acl.resource_id}")

    subnets = of_type(records, SUBNET)
    assert len(subnets) == 6  # one default subnet per us-east-1 zone
    assert all(s.config["MapPublicIpOnLaunch"] for s in subnets.values())
    assert all("_errors" not in r.config for r in records)


def test_live_instances_are_collected_with_their_exposure_fields(aws):
    ec2 = aws.client("ec2")
    iam = aws.client("iam")
    iam.create_role(RoleName="app", AssumeRolePolicyDocument="{}")
    iam.create_instance_profile(InstanceProfileName="app")
    iam.add_role_to_instance_profile(InstanceProfileName="app", RoleName="app")
    subnet = default_subnet(ec2)
    web = launch(
        ec2,
        subnet["SubnetId"],
        MetadataOptions={"HttpTokens": "required"},
        IamInstanceProfile={"Name": "app"},
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [
                    {"Key": "Name", "Value": "web-1"},
                    {"Key": "team", "Value": "a"},
                ],
            }
        ],
    )
    stopped = launch(ec2, subnet["SubnetId"])
    ec2.stop_instances(InstanceIds=[stopped])
    gone = launch(ec2, subnet["SubnetId"])
    ec2.terminate_instances(InstanceIds=[gone])

    instances = of_type(collect("ec2", session=aws), INSTANCE)

    assert set(instances) == {web, stopped}
    record = instances[web]
    assert record.name == "web-1"
    assert record.tags == {"Name": "web-1", "team": "a"}
    assert record.arn == f"arn:aws:ec2:us-east-1:{ACCOUNT_ID}:instance/{web}"
    config = record.config
    assert config["MetadataOptions"]["HttpTokens"] == "required"
    assert config["IamInstanceProfile"]["Arn"].endswith(":instance-profile/app")
    assert config["State"]["Name"] == "running"
    assert config["SubnetId"] == subnet["SubnetId"]
    assert config["VpcId"] == subnet["VpcId"]
    # The default subnet maps public IPs, so both places AWS reports it are kept.
    public_ip = config["PublicIpAddress"]
    assert config["NetworkInterfaces"][0]["Association"]["PublicIp"] == public_ip
    assert isinstance(config["LaunchTime"], str)  # JSON-ready, not a datetime
    assert instances[stopped].config["State"]["Name"] == "stopped"


def test_describe_instances_is_followed_across_pages(aws, monkeypatch):
    ec2 = aws.client("ec2")
    subnet_id = default_subnet(ec2)["SubnetId"]
    launched = {launch(ec2, subnet_id) for _ in range(7)}  # 7 reservations
    monkeypatch.setattr(EC2Collector, "instance_page_size", 5)
    calls = []
    aws.events.register(
        "before-call.ec2.DescribeInstances",
        lambda params, **kwargs: calls.append(params),
    )

    instances = of_type(collect("ec2", session=aws), INSTANCE)

    assert set(instances) == launched
    assert len(calls) == 2
    assert calls[1]["body"]["NextToken"]


def test_volumes_are_listed_in_pages_and_stored_before_the_next_page(aws):
    # moto ignores MaxResults on DescribeVolumes: pages as AWS serves them.
    def volume(n: int) -> dict:
        return {
            "VolumeId": f"vol-{n:017x}",
            "Size": 8,
            "AvailabilityZone": "us-east-1a",
            "State": "available",
            "Encrypted": False,
            "VolumeType": "gp3",
        }

    requests = []

    def pages(params, **kwargs):
        requests.append(params["body"])
        http = AWSResponse("https://stub.invalid", 200, {}, None)
        if params["body"].get("NextToken") is None:
            page = {"Volumes": [volume(1), volume(2)], "NextToken": "page-2"}
        else:
            page = {"Volumes": [volume(3)]}
        return http, {**page, "ResponseMetadata": {"HTTPStatusCode": 200}}

    aws.events.register("before-call.ec2.DescribeVolumes", pages)
    collector = EC2Collector(aws, ACCOUNT_ID, "us-east-1", datetime.now(UTC))

    volumes = (r for r in collector.collect() if r.resource_type == VOLUME)
    first = next(volumes)

    # The first page's volume is a record before the second page is asked for.
    assert first.resource_id == f"vol-{1:017x}"
    assert len(requests) == 1
    assert requests[0]["MaxResults"] == EC2Collector.page_size
    rest = [r.resource_id for r in volumes]
    assert rest == [f"vol-{n:017x}" for n in (2, 3)]
    assert requests[1]["NextToken"] == "page-2"


@pytest.mark.parametrize(
    "operation",
    [
        "DescribeVpcs",
        "DescribeSubnets",
        "DescribeSecurityGroups",
        "DescribeSecurityGroupRules",
        "DescribeNetworkAcls",
        "DescribeFlowLogs",
        "DescribeVpcEndpoints",
        "DescribeVolumes",
        "DescribeSnapshots",
        "DescribeImages",
    ],
)
def test_every_region_wide_listing_asks_for_bounded_pages(aws, operation):
    requests = []
    aws.events.register(
        f"before-call.ec2.{operation}",
        lambda params, **kwargs: requests.append(params["body"]),
    )

    collect("ec2", session=aws)

    assert requests
    assert all(r.get("MaxResults") == EC2Collector.page_size for r in requests)


def test_security_group_rules_are_joined_to_their_own_group(aws):
    ec2 = aws.client("ec2")
    vpc_id = default_subnet(ec2)["VpcId"]
    web = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc_id)
    db = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc_id)
    ec2.authorize_security_group_ingress(
        GroupId=web["GroupId"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
            }
        ],
    )
    ec2.authorize_security_group_ingress(
        GroupId=db["GroupId"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": web["GroupId"]}],
            }
        ],
    )

    groups = of_type(collect("ec2", session=aws), SECURITY_GROUP)

    assert {g.name for g in groups.values()} == {"default", "web", "db"}
    web_rules = groups[web["GroupId"]].config["SecurityGroupRules"]
    assert {r["GroupId"] for r in web_rules} == {web["GroupId"]}
    ingress = [r for r in web_rules if not r["IsEgress"]]
    assert sorted(r.get("CidrIpv4") or r.get("CidrIpv6") for r in ingress) == [
        "0.0.0.0/0",
        "::/0",
    ]
    ids = [r["SecurityGroupRuleId"] for r in web_rules]
    assert ids == sorted(ids)
    db_ingress = [
        r
        for r in groups[db["GroupId"]].config["SecurityGroupRules"]
        if not r["IsEgress"]
    ]
    assert db_ingress[0]["ReferencedGroupInfo"]["GroupId"] == web["GroupId"]
    # The describe_security_groups shape is kept alongside the rules.
    assert groups[web["GroupId"]].config["IpPermissions"][0]["FromPort"] == 443


def test_network_acl_entries_are_stored_in_evaluation_order(aws):
    ec2 = aws.client("ec2")
    vpc_id = default_subnet(ec2)["VpcId"]
    acl_id = ec2.create_network_acl(VpcId=vpc_id)["NetworkAcl"]["NetworkAclId"]
    for number in (200, 100, 150):
        ec2.create_network_acl_entry(
            NetworkAclId=acl_id,
            RuleNumber=number,
            Protocol="6",
            RuleAction="allow",
            Egress=False,
            CidrBlock="10.0.0.0/8",
            PortRange={"From": number, "To": number},
        )

    acl = of_type(collect("ec2", session=aws), NETWORK_ACL)[acl_id]

    inbound = [e["RuleNumber"] for e in acl.config["Entries"] if not e["Egress"]]
    assert inbound == sorted(inbound)
    assert {100, 150, 200} <= set(inbound)


def test_volumes_snapshots_and_their_share_permissions(aws):
    ec2 = aws.client("ec2")
    volume = ec2.create_volume(
        Size=1,
        AvailabilityZone="us-east-1a",
        Encrypted=True,
        TagSpecifications=[
            {"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": "data"}]}
        ],
    )
    public = ec2.create_snapshot(VolumeId=volume["VolumeId"])["SnapshotId"]
    private = ec2.create_snapshot(VolumeId=volume["VolumeId"])["SnapshotId"]
    ec2.modify_snapshot_attribute(
        SnapshotId=public,
        Attribute="createVolumePermission",
        OperationType="add",
        GroupNames=["all"],
        UserIds=["111122223333"],
    )

    records = collect("ec2", session=aws)

    vol = of_type(records, VOLUME)[volume["VolumeId"]]
    assert vol.name == "data"
    assert vol.config["Encrypted"] is True
    assert vol.config["State"] == "available"
    snapshots = of_type(records, SNAPSHOT)
    assert set(snapshots) == {public, private}
    permissions = snapshots[public].config["CreateVolumePermissions"]
    assert len(permissions) == 2
    assert {"Group": "all"} in permissions
    assert {"UserId": "111122223333"} in permissions
    assert snapshots[private].config["CreateVolumePermissions"] == []
    # Snapshot ARNs name no account.
    assert snapshots[public].arn == f"arn:aws:ec2:us-east-1::snapshot/{public}"


def test_only_images_and_snapshots_the_account_owns_are_collected(aws, monkeypatch):
    # With Amazon's public AMIs loaded, moto also answers OwnerIds=["self"]
    # with the snapshots behind them (owned by Amazon's accounts).
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "true")
    ec2 = aws.client("ec2")
    assert ec2.describe_images(Owners=["amazon"])["Images"]
    instance = launch(ec2, default_subnet(ec2)["SubnetId"])
    own = ec2.create_image(InstanceId=instance, Name="golden")["ImageId"]

    records = collect("ec2", session=aws)

    images = of_type(records, IMAGE)
    assert set(images) == {own}
    assert images[own].name == "golden"
    assert images[own].config["Public"] is False
    snapshots = of_type(records, SNAPSHOT)
    assert snapshots  # the snapshot behind the account's own image
    assert {s.config["OwnerId"] for s in snapshots.values()} == {ACCOUNT_ID}


def test_vpcs_carry_their_flow_logs_and_whether_they_hold_interfaces(aws):
    ec2 = aws.client("ec2")
    default_vpc = default_subnet(ec2)["VpcId"]
    launch(ec2, default_subnet(ec2)["SubnetId"])
    empty_vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    aws.client("logs").create_log_group(logGroupName="flows")
    flow_id = ec2.create_flow_logs(
        ResourceIds=[empty_vpc],
        ResourceType="VPC",
        TrafficType="REJECT",
        LogGroupName="flows",
        DeliverLogsPermissionArn=f"arn:aws:iam::{ACCOUNT_ID}:role/flow-logs",
    )["FlowLogIds"][0]

    vpcs = of_type(collect("ec2", session=aws), VPC)

    assert vpcs[default_vpc].config["HasNetworkInterfaces"] is True
    assert vpcs[default_vpc].config["FlowLogs"] == []
    assert vpcs[empty_vpc].config["HasNetworkInterfaces"] is False
    (flow_log,) = vpcs[empty_vpc].config["FlowLogs"]
    assert flow_log["FlowLogId"] == flow_id
    assert flow_log["TrafficType"] == "REJECT"
    assert flow_log["FlowLogStatus"] == "ACTIVE"


def test_vpcs_carry_their_own_live_vpc_endpoints(aws):
    ec2 = aws.client("ec2")
    default_vpc = default_subnet(ec2)["VpcId"]
    other_vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.1.1.0/24")["Subnet"][
        "SubnetId"
    ]

    def endpoint(vpc_id: str, service: str, kind: str, **kwargs) -> str:
        return ec2.create_vpc_endpoint(
            VpcId=vpc_id,
            ServiceName=f"com.amazonaws.us-east-1.{service}",
            VpcEndpointType=kind,
            **kwargs,
        )["VpcEndpoint"]["VpcEndpointId"]

    s3 = endpoint(other_vpc, "s3", "Gateway")
    api = endpoint(other_vpc, "ec2", "Interface", SubnetIds=[subnet_id])
    gone = endpoint(other_vpc, "sts", "Interface", SubnetIds=[subnet_id])
    ec2.delete_vpc_endpoints(VpcEndpointIds=[gone])

    vpcs = of_type(collect("ec2", session=aws), VPC)

    assert vpcs[default_vpc].config["VpcEndpoints"] == []
    endpoints = vpcs[other_vpc].config["VpcEndpoints"]
    # The deleted endpoint is gone, not part of the VPC's configuration.
    assert [e["VpcEndpointId"] for e in endpoints] == sorted([s3, api])
    by_id = {e["VpcEndpointId"]: e for e in endpoints}
    assert by_id[s3]["VpcEndpointType"] == "Gateway"
    assert by_id[api]["ServiceName"] == "com.amazonaws.us-east-1.ec2"
    assert by_id[api]["State"] == "available"


def test_ebs_encryption_by_default_is_a_record_per_region(aws):
    aws.client("ec2", region_name="eu-west-1").enable_ebs_encryption_by_default()

    east = of_type(collect("ec2", "us-east-1", session=aws), EBS_DEFAULT)
    west = of_type(collect("ec2", "eu-west-1", session=aws), EBS_DEFAULT)

    assert east["us-east-1"].config["EbsEncryptionByDefault"] is False
    assert west["eu-west-1"].config["EbsEncryptionByDefault"] is True
    assert west["eu-west-1"].region == "eu-west-1"


def test_unchanged_infrastructure_collects_identical_configs(aws):
    ec2 = aws.client("ec2")
    subnet_id = default_subnet(ec2)["SubnetId"]
    launch(ec2, subnet_id)
    first = canonical(collect("ec2", session=aws))

    # Another launch uses up an address in the subnet but changes no setting
    # of it (nor of the VPC, which already held interfaces).
    launch(ec2, subnet_id)
    second = canonical(collect("ec2", session=aws))

    assert second[subnet_id] == first[subnet_id]
    unchanged = {k for k in first if k in second and first[k] == second[k]}
    assert unchanged == set(first)


def test_image_last_launched_time_is_not_stored(aws):
    # moto omits LastLaunchedTime; AWS sends it and moves it on every launch.
    def answer(**kwargs):
        image = {
            "ImageId": "ami-0abc",
            "OwnerId": ACCOUNT_ID,
            "Name": "golden",
            "Public": False,
            "LastLaunchedTime": "2026-01-01T00:00:00Z",
        }
        http = AWSResponse("https://stub.invalid", 200, {}, None)
        return http, {"Images": [image], "ResponseMetadata": {"HTTPStatusCode": 200}}

    aws.events.register("before-call.ec2.DescribeImages", answer)

    image = of_type(collect("ec2", session=aws), IMAGE)["ami-0abc"]

    assert "LastLaunchedTime" not in image.config
    assert image.config["Public"] is False


@pytest.mark.parametrize(
    "operation", ["DescribeInstances", "DescribeVpcs", "DescribeSecurityGroups"]
)
def test_denied_main_listing_raises(aws, operation):
    deny(aws, "ec2", operation)

    with pytest.raises(ClientError) as excinfo:
        collect("ec2", session=aws)

    assert excinfo.value.response["Error"]["Code"] == "AccessDenied"


def test_denied_sub_calls_are_recorded_on_each_record(aws):
    ec2 = aws.client("ec2")
    volume = ec2.create_volume(Size=1, AvailabilityZone="us-east-1a")
    snapshot = ec2.create_snapshot(VolumeId=volume["VolumeId"])["SnapshotId"]
    for operation in (
        "GetEbsEncryptionByDefault",
        "DescribeSecurityGroupRules",
        "DescribeFlowLogs",
        "DescribeNetworkInterfaces",
        "DescribeVpcEndpoints",
        "DescribeSnapshotAttribute",
    ):
        deny(aws, "ec2", operation)

    records = collect("ec2", session=aws)

    setting = of_type(records, EBS_DEFAULT)["us-east-1"]
    assert "EbsEncryptionByDefault" not in setting.config
    assert setting.config["_errors"]["EbsEncryptionByDefault"].startswith(
        "access_denied"
    )
    (group,) = of_type(records, SECURITY_GROUP).values()
    assert "SecurityGroupRules" not in group.config
    assert "SecurityGroupRules" in group.config["_errors"]
    (vpc,) = of_type(records, VPC).values()
    assert set(vpc.config["_errors"]) == {
        "FlowLogs",
        "HasNetworkInterfaces",
        "VpcEndpoints",
    }
    assert "FlowLogs" not in vpc.config
    assert "HasNetworkInterfaces" not in vpc.config
    assert "VpcEndpoints" not in vpc.config
    snap = of_type(records, SNAPSHOT)[snapshot]
    assert "CreateVolumePermissions" not in snap.config
    assert "CreateVolumePermissions" in snap.config["_errors"]


def test_snapshot_deleted_mid_scan_is_skipped(aws):
    ec2 = aws.client("ec2")
    volume = ec2.create_volume(Size=1, AvailabilityZone="us-east-1a")
    ec2.create_snapshot(VolumeId=volume["VolumeId"])
    deny(aws, "ec2", "DescribeSnapshotAttribute", code="InvalidSnapshot.NotFound")

    records = collect("ec2", session=aws)

    assert of_type(records, SNAPSHOT) == {}
    assert of_type(records, VOLUME)  # the rest of the unit is unaffected


# -- the "vpc" unit: routing, gateways, peering, VPN, Block Public Access

ROUTE_TABLE = "AWS::EC2::RouteTable"
INTERNET_GATEWAY = "AWS::EC2::InternetGateway"
PEERING = "AWS::EC2::VPCPeeringConnection"
VPN = "AWS::EC2::VPNConnection"
BLOCK_PUBLIC_ACCESS = "AWS::EC2::VPCBlockPublicAccessOptions"


def answer(session, operation: str, parsed: dict) -> None:
    """Answer ``ec2.operation`` with ``parsed``, checked against AWS's shape.

    The same check botocore's Stubber makes, for a response served to every
    client the collector creates from ``session``.
    """
    shape = session.client("ec2").meta.service_model.operation_model(operation)
    report = ParamValidator().validate(parsed, shape.output_shape)
    assert not report.has_errors(), report.generate_report()

    def handler(**kwargs):
        http = AWSResponse("https://stub.invalid", 200, {}, None)
        return http, {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200}}

    session.events.register(f"before-call.ec2.{operation}", handler)


def unparseable_500(**kwargs):
    """What a moto server sends for DescribeVpcBlockPublicAccessOptions.

    It has no handler for the call and answers HTTP 500 with an HTML page,
    which botocore's EC2 parser rejects. In-process moto raises
    NotImplementedError instead, so tests put the server's behaviour back.
    """
    raise ResponseParserError("Unable to parse response (syntax error), invalid XML")


@pytest.fixture
def vpc_aws(aws):
    # Last, so that a test's own answer or denial comes first.
    aws.events.register_last(
        "before-call.ec2.DescribeVpcBlockPublicAccessOptions", unparseable_500
    )
    return aws


def test_vpc_unit_collects_routes_gateways_and_peering(vpc_aws):
    ec2 = vpc_aws.client("ec2")
    app = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    shared = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    pcx = ec2.create_vpc_peering_connection(VpcId=app, PeerVpcId=shared)[
        "VpcPeeringConnection"
    ]["VpcPeeringConnectionId"]
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    table = ec2.create_route_table(
        VpcId=app,
        TagSpecifications=[
            {"ResourceType": "route-table", "Tags": [{"Key": "Name", "Value": "app"}]}
        ],
    )["RouteTable"]["RouteTableId"]
    for cidr in ("10.1.2.0/24", "10.1.1.0/24"):
        ec2.create_route(
            RouteTableId=table, DestinationCidrBlock=cidr, VpcPeeringConnectionId=pcx
        )
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=app)

    records = collect("vpc", session=vpc_aws)

    tables = of_type(records, ROUTE_TABLE)
    # Each VPC's main route table, the default VPC's included, and the new one.
    assert len(tables) == 4
    app_table = tables[table]
    assert app_table.name == "app"
    assert app_table.arn == f"arn:aws:ec2:us-east-1:{ACCOUNT_ID}:route-table/{table}"
    destinations = [r["DestinationCidrBlock"] for r in app_table.config["Routes"]]
    assert destinations == ["10.0.0.0/16", "10.1.1.0/24", "10.1.2.0/24"]
    assert app_table.config["Routes"][1]["VpcPeeringConnectionId"] == pcx

    (gateway,) = of_type(records, INTERNET_GATEWAY).values()
    assert gateway.resource_id == igw
    assert gateway.config["Attachments"][0]["VpcId"] == app

    peering = of_type(records, PEERING)[pcx]
    assert peering.config["Status"]["Code"] == "active"
    assert peering.config["AccepterVpcInfo"]["CidrBlock"] == "10.1.0.0/16"
    assert peering.arn.endswith(f":vpc-peering-connection/{pcx}")


def test_ended_peering_connections_and_deleted_vpns_are_skipped(vpc_aws):
    ec2 = vpc_aws.client("ec2")
    app = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    shared = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]

    def peering() -> str:
        return ec2.create_vpc_peering_connection(VpcId=app, PeerVpcId=shared)[
            "VpcPeeringConnection"
        ]["VpcPeeringConnectionId"]

    pending, rejected, deleted = peering(), peering(), peering()
    ec2.reject_vpc_peering_connection(VpcPeeringConnectionId=rejected)
    ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=deleted)
    customer = ec2.create_customer_gateway(
        Type="ipsec.1", PublicIp="203.0.113.10", BgpAsn=65000
    )["CustomerGateway"]["CustomerGatewayId"]
    gateway = ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]
    vpn = ec2.create_vpn_connection(
        Type="ipsec.1", CustomerGatewayId=customer, VpnGatewayId=gateway
    )["VpnConnection"]["VpnConnectionId"]
    ec2.delete_vpn_connection(VpnConnectionId=vpn)

    records = collect("vpc", session=vpc_aws)

    assert set(of_type(records, PEERING)) == {pending}
    assert of_type(records, VPN) == {}


AWS_VPN = {
    "VpnConnectionId": "vpn-0a1b2c3d4e5f60718",
    "State": "available",
    "Type": "ipsec.1",
    "CustomerGatewayId": "cgw-0a1b2c3d4e5f60718",
    "VpnGatewayId": "vgw-0a1b2c3d4e5f60718",
    "Category": "VPN",
    "CustomerGatewayConfiguration": "<vpn_connection><ike><pre_shared_key>"
    "sEcReT-key-1</pre_shared_key></ike></vpn_connection>",
    "Options": {
        "StaticRoutesOnly": False,
        "TunnelOptions": [
            {
                "OutsideIpAddress": "203.0.113.200",
                "PreSharedKey": "sEcReT-key-2",
                "LogOptions": {"CloudWatchLogOptions": {"LogEnabled": False}},
            },
            {
                "OutsideIpAddress": "203.0.113.100",
                "PreSharedKey": "sEcReT-key-1",
                "LogOptions": {
                    "CloudWatchLogOptions": {
                        "LogEnabled": True,
                        "LogGroupArn": f"arn:aws:logs:us-east-1:{ACCOUNT_ID}"
                        ":log-group:vpn",
                        "LogOutputFormat": "json",
                    }
                },
            },
        ],
    },
    "Routes": [],
    "Tags": [{"Key": "Name", "Value": "office"}],
}


def telemetry(routes: int, changed: str) -> list[dict]:
    return [
        {
            "OutsideIpAddress": "203.0.113.200",
            "Status": "DOWN",
            "StatusMessage": "IPSEC IS DOWN",
            "AcceptedRouteCount": 0,
            "LastStatusChange": datetime.fromisoformat(changed),
        },
        {
            "OutsideIpAddress": "203.0.113.100",
            "Status": "UP",
            "StatusMessage": f"{routes} BGP ROUTES",
            "AcceptedRouteCount": routes,
            "LastStatusChange": datetime.fromisoformat(changed),
        },
    ]


def test_vpn_connections_are_stored_without_pre_shared_keys(aws):
    answer(
        aws,
        "DescribeVpnConnections",
        {"VpnConnections": [{**AWS_VPN, "VgwTelemetry": telemetry(3, "2026-01-01")}]},
    )
    deny(aws, "ec2", "DescribeVpcBlockPublicAccessOptions")

    vpn = of_type(collect("vpc", session=aws), VPN)["vpn-0a1b2c3d4e5f60718"]

    assert "sEcReT" not in json.dumps(vpn.config)
    assert "CustomerGatewayConfiguration" not in vpn.config
    assert vpn.name == "office"
    tunnels = vpn.config["Options"]["TunnelOptions"]
    assert [t["OutsideIpAddress"] for t in tunnels] == [
        "203.0.113.100",
        "203.0.113.200",
    ]
    assert tunnels[0]["LogOptions"]["CloudWatchLogOptions"]["LogEnabled"] is True
    assert vpn.config["VgwTelemetry"] == [
        {"OutsideIpAddress": "203.0.113.100", "Status": "UP"},
        {
            "OutsideIpAddress": "203.0.113.200",
            "Status": "DOWN",
            "StatusMessage": "IPSEC IS DOWN",
        },
    ]


def test_vpn_telemetry_that_moves_on_its_own_does_not_change_the_record(aws):
    deny(aws, "ec2", "DescribeVpcBlockPublicAccessOptions")
    configs = []
    for routes, changed in ((3, "2026-01-01"), (7, "2026-02-01")):
        session = new_session(region_name="us-east-1")
        deny(session, "ec2", "DescribeVpcBlockPublicAccessOptions")
        vpn = {**AWS_VPN, "VgwTelemetry": telemetry(routes, changed)}
        answer(session, "DescribeVpnConnections", {"VpnConnections": [vpn]})
        records = collect("vpc", session=session)
        configs.append(canonical(r for r in records if r.resource_type == VPN))

    assert configs[0] == configs[1]


def test_block_public_access_options_are_a_record_per_region(aws):
    def options(region: str, mode: str) -> dict:
        return {
            "VpcBlockPublicAccessOptions": {
                "AwsAccountId": ACCOUNT_ID,
                "AwsRegion": region,
                "State": "update-complete",
                "InternetGatewayBlockMode": mode,
                "LastUpdateTimestamp": datetime(2026, 1, 1, tzinfo=UTC),
                "ManagedBy": "account",
                "ExclusionsAllowed": "allowed",
            }
        }

    records = []
    for region, mode in (("us-east-1", "block-ingress"), ("eu-west-1", "off")):
        session = new_session(region_name=region)
        answer(session, "DescribeVpcBlockPublicAccessOptions", options(region, mode))
        records += collect("vpc", region, session=session)

    settings = of_type(records, BLOCK_PUBLIC_ACCESS)
    assert set(settings) == {"us-east-1", "eu-west-1"}
    east = settings["us-east-1"]
    assert east.region == "us-east-1"
    assert east.name == "VPC Block Public Access (us-east-1)"
    block = east.config["VpcBlockPublicAccessOptions"]
    assert block["InternetGatewayBlockMode"] == "block-ingress"
    assert isinstance(block["LastUpdateTimestamp"], str)
    assert "_errors" not in east.config
    west = settings["eu-west-1"].config["VpcBlockPublicAccessOptions"]
    assert west["InternetGatewayBlockMode"] == "off"


def test_block_public_access_unreadable_is_recorded_and_the_unit_goes_on(vpc_aws):
    # The moto server's answer (an HTML 500 page), then an AWS denial.
    ec2 = vpc_aws.client("ec2")
    ec2.create_internet_gateway()

    records = collect("vpc", session=vpc_aws)

    setting = of_type(records, BLOCK_PUBLIC_ACCESS)["us-east-1"]
    assert "VpcBlockPublicAccessOptions" not in setting.config
    assert setting.config["_errors"]["VpcBlockPublicAccessOptions"].startswith(
        "unsupported:"
    )
    assert of_type(records, INTERNET_GATEWAY)  # the rest of the unit is collected
    assert of_type(records, ROUTE_TABLE)

    deny(vpc_aws, "ec2", "DescribeVpcBlockPublicAccessOptions")
    setting = of_type(collect("vpc", session=vpc_aws), BLOCK_PUBLIC_ACCESS)
    problem = setting["us-east-1"].config["_errors"]["VpcBlockPublicAccessOptions"]
    assert problem.startswith("access_denied")


def test_route_tables_are_followed_across_pages(vpc_aws):
    # moto ignores MaxResults on DescribeRouteTables: pages as AWS serves them.
    def table(n: int) -> dict:
        return {
            "RouteTableId": f"rtb-{n:017x}",
            "VpcId": "vpc-0a1b2c3d4e5f60718",
            "OwnerId": ACCOUNT_ID,
            "Routes": [
                {
                    "DestinationCidrBlock": "10.0.0.0/16",
                    "GatewayId": "local",
                    "Origin": "CreateRouteTable",
                    "State": "active",
                }
            ],
            "Associations": [],
            "PropagatingVgws": [],
            "Tags": [],
        }

    requests = []

    def pages(params, **kwargs):
        requests.append(params["body"])
        http = AWSResponse("https://stub.invalid", 200, {}, None)
        if params["body"].get("NextToken") is None:
            page = {"RouteTables": [table(1), table(2)], "NextToken": "page-2"}
        else:
            page = {"RouteTables": [table(3)]}
        return http, {**page, "ResponseMetadata": {"HTTPStatusCode": 200}}

    vpc_aws.events.register("before-call.ec2.DescribeRouteTables", pages)

    tables = of_type(collect("vpc", session=vpc_aws), ROUTE_TABLE)

    assert set(tables) == {f"rtb-{n:017x}" for n in (1, 2, 3)}
    assert len(requests) == 2
    assert requests[0]["MaxResults"] == 100
    assert requests[1]["NextToken"] == "page-2"


@pytest.mark.parametrize(
    "operation",
    [
        "DescribeRouteTables",
        "DescribeInternetGateways",
        "DescribeVpcPeeringConnections",
        "DescribeVpnConnections",
    ],
)
def test_denied_vpc_listing_raises(vpc_aws, operation):
    deny(vpc_aws, "ec2", operation)

    with pytest.raises(ClientError) as excinfo:
        collect("vpc", session=vpc_aws)

    assert excinfo.value.response["Error"]["Code"] == "AccessDenied"
