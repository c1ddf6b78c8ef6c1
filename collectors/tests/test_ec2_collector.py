"""The EC2 collector against moto: records, joins, sub-call failures, paging."""

import json

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

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

    from accounts.aws import forget_credentials

    with mock_aws():
        forget_credentials()
        yield boto3.Session(region_name="us-east-1")
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
    assert set(vpc.config["_errors"]) == {"FlowLogs", "HasNetworkInterfaces"}
    assert "FlowLogs" not in vpc.config
    assert "HasNetworkInterfaces" not in vpc.config
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
