"""EC2, EBS and VPC controls over configurations built in moto.

The controls of findings/controls/ec2.py and ebs.py, and vpc.py's flow-log and
subnet rows; the VPC connectivity controls are in test_controls_vpc.py.

moto gives every region a default VPC with six public subnets, a default
security group (egress open) and a default network ACL (everything allowed);
the tests pick their own resources out of the results by id.
"""

import pytest

from accounts.aws import forget_credentials, new_session
from collectors.base import ResourceRecord
from findings.controls import REGISTRY
from findings.controls.base import Severity, Status
from findings.testing import ACCOUNT_ID, collect, deny, evaluate

AMI = "ami-12345678"  # any id: moto launches from ids it does not know
ANYWHERE = [{"CidrIp": "0.0.0.0/0"}]
ANYWHERE_V6 = [{"CidrIpv6": "::/0"}]


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
    # which only slows these tests down.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


@pytest.fixture
def ec2(aws):
    return aws.client("ec2")


def default_subnet(ec2) -> dict:
    subnets = ec2.describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}]
    )["Subnets"]
    return sorted(subnets, key=lambda s: s["AvailabilityZone"])[0]


def private_subnet(ec2) -> dict:
    """A subnet that does not map public IPs (moto's default ones do)."""
    vpc_id = default_subnet(ec2)["VpcId"]
    return ec2.create_subnet(
        VpcId=vpc_id, CidrBlock="172.31.96.0/20", AvailabilityZone="us-east-1a"
    )["Subnet"]


def launch(ec2, subnet_id: str, **kwargs) -> str:
    instance = ec2.run_instances(
        ImageId=AMI, MinCount=1, MaxCount=1, SubnetId=subnet_id, **kwargs
    )["Instances"][0]
    return instance["InstanceId"]


def instance_profile(aws, name: str = "app") -> dict:
    iam = aws.client("iam")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    return {"Name": name}


def security_group(ec2, name: str, *permissions: dict) -> str:
    vpc_id = default_subnet(ec2)["VpcId"]
    group_id = ec2.create_security_group(
        GroupName=name, Description=name, VpcId=vpc_id
    )["GroupId"]
    if permissions:
        ec2.authorize_security_group_ingress(
            GroupId=group_id, IpPermissions=list(permissions)
        )
    return group_id


def tcp(low: int, high: int | None = None, **sources) -> dict:
    return {"IpProtocol": "tcp", "FromPort": low, "ToPort": high or low, **sources}


def network_acl(ec2, *entries: dict) -> str:
    vpc_id = default_subnet(ec2)["VpcId"]
    acl_id = ec2.create_network_acl(VpcId=vpc_id)["NetworkAcl"]["NetworkAclId"]
    for entry in entries:
        ec2.create_network_acl_entry(NetworkAclId=acl_id, Egress=False, **entry)
    return acl_id


def run(control_id: str, aws, region: str = "us-east-1", **kwargs):
    return evaluate(control_id, collect("ec2", region, session=aws), **kwargs)


def record(resource_type: str, resource_id: str, config: dict) -> ResourceRecord:
    """A record shaped like AWS's answer, for what moto cannot produce."""
    return ResourceRecord(
        resource_type=resource_type,
        resource_id=resource_id,
        config=config,
        region="us-east-1",
    )


# -- catalog

EXPECTED = {
    # id: (section, severity, (CIS v3, v4), Security Hub)
    "ec2.instance.imdsv2-required": (
        "service/compute/ec2/guest-os",
        Severity.HIGH,
        ("5.6", "5.7"),
        ("EC2.8",),
    ),
    "ec2.instance.no-public-ip": (
        "service/compute/ec2/guest-os",
        Severity.HIGH,
        ("", ""),
        ("EC2.9",),
    ),
    "ec2.instance.profile-attached": (
        "service/compute/ec2/guest-os",
        Severity.MEDIUM,
        ("1.18", "1.18"),
        (),
    ),
    "ebs.encryption-by-default": (
        "service/compute/ec2/ebs",
        Severity.HIGH,
        ("2.2.1", "5.1.1"),
        ("EC2.7",),
    ),
    "ebs.volume.encrypted": (
        "service/compute/ec2/ebs",
        Severity.MEDIUM,
        ("", ""),
        ("EC2.3",),
    ),
    "ebs.snapshot.not-public": (
        "service/compute/ec2/ebs",
        Severity.CRITICAL,
        ("", ""),
        ("EC2.1",),
    ),
    "ec2.ami.not-public": ("service/compute/ec2/ebs", Severity.CRITICAL, ("", ""), ()),
    "sg.no-public-admin-ports-ipv4": (
        "network/vpc/security-groups",
        Severity.CRITICAL,
        ("5.2", "5.3"),
        ("EC2.53*",),
    ),
    "sg.no-public-admin-ports-ipv6": (
        "network/vpc/security-groups",
        Severity.CRITICAL,
        ("5.3", "5.4"),
        ("EC2.54*",),
    ),
    "sg.no-public-high-risk-ports": (
        "network/vpc/security-groups",
        Severity.HIGH,
        ("", "5.1.2"),
        ("EC2.19",),
    ),
    "sg.default-restricts-all": (
        "network/vpc/default-vpc",
        Severity.HIGH,
        ("5.4", "5.5"),
        ("EC2.2",),
    ),
    "nacl.no-public-admin-ports-ipv4": (
        "network/vpc/network-acls",
        Severity.HIGH,
        ("5.1", "5.2"),
        ("EC2.21",),
    ),
    "nacl.no-public-admin-ports-ipv6": (
        "network/vpc/network-acls",
        Severity.HIGH,
        ("", ""),
        (),
    ),
    "vpc.flow-logs-enabled": (
        "network/vpc",
        Severity.MEDIUM,
        ("3.7", "3.7"),
        ("EC2.6",),
    ),
    "vpc.subnet.no-auto-public-ip": (
        "network/vpc/subnets-route-tables",
        Severity.MEDIUM,
        ("", ""),
        ("EC2.15",),
    ),
    "vpc.default-vpc-unused": ("network/vpc/default-vpc", Severity.LOW, ("", ""), ()),
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


# -- instances


def test_imdsv2_required_passes_and_optional_fails(aws, ec2):
    subnet_id = private_subnet(ec2)["SubnetId"]
    strict = launch(ec2, subnet_id, MetadataOptions={"HttpTokens": "required"})
    off = launch(ec2, subnet_id, MetadataOptions={"HttpEndpoint": "disabled"})
    legacy = launch(ec2, subnet_id, MetadataOptions={"HttpTokens": "optional"})

    results = run("ec2.instance.imdsv2-required", aws)

    assert results[strict].status == Status.PASS
    assert results[off].status == Status.PASS
    assert "HttpEndpoint=disabled" in results[off].reason
    assert results[legacy].status == Status.FAIL
    assert "HttpTokens is optional" in results[legacy].reason


def test_imdsv2_stopped_instance_is_still_evaluated(aws, ec2):
    legacy = launch(ec2, private_subnet(ec2)["SubnetId"])
    ec2.stop_instances(InstanceIds=[legacy])

    results = run("ec2.instance.imdsv2-required", aws)

    assert results[legacy].status == Status.FAIL


def test_imdsv2_without_metadata_options_is_an_error_not_a_pass():
    results = evaluate(
        "ec2.instance.imdsv2-required",
        [record("AWS::EC2::Instance", "i-1", {"State": {"Name": "running"}})],
    )

    assert results["i-1"].status == Status.ERROR


def test_no_public_ip_fails_in_a_public_subnet_and_passes_in_a_private_one(aws, ec2):
    exposed = launch(ec2, default_subnet(ec2)["SubnetId"])
    hidden = launch(ec2, private_subnet(ec2)["SubnetId"])
    public_ip = ec2.describe_instances(InstanceIds=[exposed])["Reservations"][0][
        "Instances"
    ][0]["PublicIpAddress"]

    results = run("ec2.instance.no-public-ip", aws)

    assert results[exposed].status == Status.FAIL
    assert public_ip in results[exposed].reason
    assert results[hidden].status == Status.PASS


def test_no_public_ip_finds_an_elastic_ip_on_a_secondary_address():
    # An Elastic IP on a secondary private address shows up only under that
    # address's Association, not in PublicIpAddress.
    config = {
        "State": {"Name": "running"},
        "NetworkInterfaces": [
            {
                "NetworkInterfaceId": "eni-1",
                "PrivateIpAddresses": [
                    {"Primary": True, "PrivateIpAddress": "10.0.0.5"},
                    {
                        "Primary": False,
                        "PrivateIpAddress": "10.0.0.6",
                        "Association": {"PublicIp": "203.0.113.9"},
                    },
                ],
            }
        ],
    }

    results = evaluate(
        "ec2.instance.no-public-ip", [record("AWS::EC2::Instance", "i-1", config)]
    )

    assert results["i-1"].status == Status.FAIL
    assert "203.0.113.9 (eni-1)" in results["i-1"].reason


def test_profile_attached_pass_fail_and_stopped_not_applicable(aws, ec2):
    subnet_id = private_subnet(ec2)["SubnetId"]
    with_role = launch(ec2, subnet_id, IamInstanceProfile=instance_profile(aws))
    bare = launch(ec2, subnet_id)
    stopped = launch(ec2, subnet_id)
    ec2.stop_instances(InstanceIds=[stopped])

    results = run("ec2.instance.profile-attached", aws)

    assert results[with_role].status == Status.PASS
    assert "instance-profile/app" in results[with_role].reason
    assert results[bare].status == Status.FAIL
    assert results[stopped].status == Status.NOT_APPLICABLE
    assert "stopped" in results[stopped].reason


# -- EBS


def test_ebs_encryption_by_default_is_judged_per_region(aws):
    aws.client("ec2", region_name="eu-west-1").enable_ebs_encryption_by_default()
    records = collect("ec2", "us-east-1", session=aws) + collect(
        "ec2", "eu-west-1", session=aws
    )

    results = evaluate(
        "ebs.encryption-by-default", records, regions=["us-east-1", "eu-west-1"]
    )

    assert results["eu-west-1"].status == Status.PASS
    assert results["us-east-1"].status == Status.FAIL
    assert "off in us-east-1" in results["us-east-1"].reason


def test_ebs_encryption_by_default_unreadable_is_an_error(aws):
    deny(aws, "ec2", "GetEbsEncryptionByDefault")

    results = run("ebs.encryption-by-default", aws)

    assert results["us-east-1"].status == Status.ERROR


def test_volume_encrypted_in_use_only(aws, ec2):
    subnet = private_subnet(ec2)
    instance = launch(ec2, subnet["SubnetId"])  # moto's root volume: unencrypted
    root = ec2.describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": [instance]}]
    )["Volumes"][0]["VolumeId"]
    zone = subnet["AvailabilityZone"]
    encrypted = ec2.create_volume(Size=1, AvailabilityZone=zone, Encrypted=True)
    ec2.attach_volume(
        VolumeId=encrypted["VolumeId"], InstanceId=instance, Device="/dev/sdf"
    )
    spare = ec2.create_volume(Size=1, AvailabilityZone=zone)["VolumeId"]

    results = run("ebs.volume.encrypted", aws)

    assert results[root].status == Status.FAIL
    assert instance in results[root].reason
    assert results[encrypted["VolumeId"]].status == Status.PASS
    assert results[spare].status == Status.NOT_APPLICABLE


def test_no_volumes_means_no_findings(aws):
    assert run("ebs.volume.encrypted", aws) == {}


def snapshot(ec2) -> str:
    volume = ec2.create_volume(Size=1, AvailabilityZone="us-east-1a")
    return ec2.create_snapshot(VolumeId=volume["VolumeId"])["SnapshotId"]


def share(ec2, snapshot_id: str, **who) -> None:
    ec2.modify_snapshot_attribute(
        SnapshotId=snapshot_id,
        Attribute="createVolumePermission",
        OperationType="add",
        **who,
    )


def test_snapshot_public_fails_private_and_shared_pass(aws, ec2):
    public, private, shared = snapshot(ec2), snapshot(ec2), snapshot(ec2)
    share(ec2, public, GroupNames=["all"])
    share(ec2, shared, UserIds=["111122223333"])

    results = run("ebs.snapshot.not-public", aws)

    assert results[public].status == Status.FAIL
    assert "Group all" in results[public].reason
    assert results[private].status == Status.PASS
    assert results[shared].status == Status.PASS
    assert "111122223333" in results[shared].reason


def test_snapshot_permissions_unreadable_is_an_error(aws, ec2):
    public = snapshot(ec2)
    share(ec2, public, GroupNames=["all"])
    deny(aws, "ec2", "DescribeSnapshotAttribute")

    results = run("ebs.snapshot.not-public", aws)

    assert results[public].status == Status.ERROR


def test_ami_public_fails_private_passes(aws, ec2):
    instance = launch(ec2, private_subnet(ec2)["SubnetId"])
    public = ec2.create_image(InstanceId=instance, Name="shared")["ImageId"]
    private = ec2.create_image(InstanceId=instance, Name="internal")["ImageId"]
    ec2.modify_image_attribute(
        ImageId=public, LaunchPermission={"Add": [{"Group": "all"}]}
    )

    results = run("ec2.ami.not-public", aws)

    assert results[public].status == Status.FAIL
    assert results[private].status == Status.PASS


# -- security groups


def test_admin_ports_ipv4(aws, ec2):
    ssh_world = security_group(ec2, "ssh-world", tcp(22, IpRanges=ANYWHERE))
    wide_range = security_group(ec2, "wide", tcp(0, 1000, IpRanges=ANYWHERE))
    everything = security_group(
        ec2, "everything", {"IpProtocol": "-1", "IpRanges": ANYWHERE}
    )
    ssh_office = security_group(
        ec2, "ssh-office", tcp(22, IpRanges=[{"CidrIp": "203.0.113.0/24"}])
    )
    https = security_group(ec2, "https", tcp(443, IpRanges=ANYWHERE))
    # ICMP's FromPort is a message type: type 22 is not port 22.
    ping = security_group(
        ec2,
        "ping",
        {"IpProtocol": "icmp", "FromPort": 22, "ToPort": -1, "IpRanges": ANYWHERE},
    )
    rdp_v6 = security_group(ec2, "rdp-v6", tcp(3389, Ipv6Ranges=ANYWHERE_V6))

    results = run("sg.no-public-admin-ports-ipv4", aws)

    assert results[ssh_world].status == Status.FAIL
    assert "0.0.0.0/0 on tcp 22" in results[ssh_world].reason
    assert results[wide_range].status == Status.FAIL
    assert "tcp 0-1000 (ports 22)" in results[wide_range].reason
    assert results[everything].status == Status.FAIL
    assert "all traffic (ports 22, 3389)" in results[everything].reason
    for group in (ssh_office, https, ping, rdp_v6):
        assert results[group].status == Status.PASS, group


def test_admin_ports_ipv6(aws, ec2):
    rdp_v6 = security_group(ec2, "rdp-v6", tcp(3389, Ipv6Ranges=ANYWHERE_V6))
    ssh_v4 = security_group(ec2, "ssh-v4", tcp(22, IpRanges=ANYWHERE))

    results = run("sg.no-public-admin-ports-ipv6", aws)

    assert results[rdp_v6].status == Status.FAIL
    assert "::/0 on tcp 3389" in results[rdp_v6].reason
    assert results[ssh_v4].status == Status.PASS


def test_high_risk_ports_from_either_address_family(aws, ec2):
    mysql_v6 = security_group(ec2, "mysql", tcp(3306, Ipv6Ranges=ANYWHERE_V6))
    ftp_v4 = security_group(ec2, "ftp", tcp(20, 21, IpRanges=ANYWHERE))
    web = security_group(
        ec2, "web", tcp(80, IpRanges=ANYWHERE), tcp(443, IpRanges=ANYWHERE)
    )

    results = run("sg.no-public-high-risk-ports", aws)

    assert results[mysql_v6].status == Status.FAIL
    assert "(ports 3306)" in results[mysql_v6].reason
    assert results[ftp_v4].status == Status.FAIL
    assert "(ports 20, 21)" in results[ftp_v4].reason
    assert results[web].status == Status.PASS


@pytest.mark.parametrize(
    "control_id",
    [
        "sg.no-public-admin-ports-ipv4",
        "sg.no-public-admin-ports-ipv6",
        "sg.no-public-high-risk-ports",
    ],
)
def test_unreadable_security_group_rules_are_an_error(aws, ec2, control_id):
    open_group = security_group(
        ec2,
        "open",
        {"IpProtocol": "-1", "IpRanges": ANYWHERE, "Ipv6Ranges": ANYWHERE_V6},
    )
    deny(aws, "ec2", "DescribeSecurityGroupRules")

    results = run(control_id, aws)

    assert results[open_group].status == Status.ERROR


def default_group(ec2) -> dict:
    return ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]


def test_default_group_with_rules_fails(aws, ec2):
    group = default_group(ec2)
    # AWS creates default groups with this self-referencing inbound rule too.
    ec2.authorize_security_group_ingress(
        GroupId=group["GroupId"],
        IpPermissions=[
            {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group["GroupId"]}]}
        ],
    )

    results = run("sg.default-restricts-all", aws)

    result = results[group["GroupId"]]
    assert result.status == Status.FAIL
    assert f"inbound all traffic from {group['GroupId']}" in result.reason
    assert "outbound all traffic to 0.0.0.0/0" in result.reason


def test_default_group_without_rules_passes_and_others_do_not_apply(aws, ec2):
    group = default_group(ec2)
    ec2.revoke_security_group_egress(
        GroupId=group["GroupId"], IpPermissions=group["IpPermissionsEgress"]
    )
    custom = security_group(ec2, "custom", tcp(22, IpRanges=ANYWHERE))

    results = run("sg.default-restricts-all", aws)

    assert results[group["GroupId"]].status == Status.PASS
    assert results[custom].status == Status.NOT_APPLICABLE


# -- network ACLs


def acl_entry(number: int, action: str, protocol: str = "6", ports=None, **cidr):
    entry = {"RuleNumber": number, "Protocol": protocol, "RuleAction": action, **cidr}
    if ports:
        entry["PortRange"] = {"From": ports[0], "To": ports[1]}
    return entry


def test_nacl_ipv4_default_acl_fails_and_a_fresh_one_passes(aws, ec2):
    fresh = network_acl(ec2)  # only the implicit deny-all

    results = run("nacl.no-public-admin-ports-ipv4", aws)

    default_acl = next(k for k in results if k != fresh)
    assert results[default_acl].status == Status.FAIL
    assert "rule 100 allows 0.0.0.0/0 to port 22" in results[default_acl].reason
    assert results[fresh].status == Status.PASS


def test_nacl_ipv4_rule_order_decides(aws, ec2):
    v4 = {"CidrBlock": "0.0.0.0/0"}
    # SSH is denied first, RDP falls through to the allow-all.
    ssh_blocked = network_acl(
        ec2,
        acl_entry(90, "deny", ports=(22, 22), **v4),
        acl_entry(100, "allow", protocol="-1", **v4),
    )
    # Every TCP port is denied before the allow-all is reached.
    all_blocked = network_acl(
        ec2,
        acl_entry(90, "deny", ports=(0, 65535), **v4),
        acl_entry(100, "allow", protocol="-1", **v4),
    )
    office_only = network_acl(
        ec2, acl_entry(100, "allow", ports=(22, 22), CidrBlock="203.0.113.0/24")
    )
    web_only = network_acl(ec2, acl_entry(100, "allow", ports=(443, 443), **v4))

    results = run("nacl.no-public-admin-ports-ipv4", aws)

    assert results[ssh_blocked].status == Status.FAIL
    assert results[ssh_blocked].reason == "rule 100 allows 0.0.0.0/0 to port 3389"
    for acl in (all_blocked, office_only, web_only):
        assert results[acl].status == Status.PASS, acl


def test_nacl_ipv6(aws, ec2):
    v6 = {"Ipv6CidrBlock": "::/0"}
    open_v6 = network_acl(ec2, acl_entry(100, "allow", protocol="-1", **v6))
    rdp_v6 = network_acl(ec2, acl_entry(100, "allow", ports=(3389, 3389), **v6))
    ssh_v4 = network_acl(
        ec2, acl_entry(100, "allow", ports=(22, 22), CidrBlock="0.0.0.0/0")
    )

    results = run("nacl.no-public-admin-ports-ipv6", aws)

    assert results[open_v6].status == Status.FAIL
    assert "::/0 to port 22" in results[open_v6].reason
    assert results[rdp_v6].status == Status.FAIL
    assert results[ssh_v4].status == Status.PASS


# -- VPCs and subnets


def flow_log(aws, vpc_id: str, traffic: str) -> str:
    logs = aws.client("logs")
    group = f"flows-{vpc_id}-{traffic}"
    logs.create_log_group(logGroupName=group)
    return aws.client("ec2").create_flow_logs(
        ResourceIds=[vpc_id],
        ResourceType="VPC",
        TrafficType=traffic,
        LogGroupName=group,
        DeliverLogsPermissionArn=f"arn:aws:iam::{ACCOUNT_ID}:role/flow-logs",
    )["FlowLogIds"][0]


def test_flow_logs(aws, ec2):
    bare = default_subnet(ec2)["VpcId"]
    rejects = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    flow_log(aws, rejects, "REJECT")
    accepts = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    accept_log = flow_log(aws, accepts, "ACCEPT")

    results = run("vpc.flow-logs-enabled", aws)

    assert results[bare].status == Status.FAIL
    assert results[bare].reason == "no flow log is attached to the VPC"
    assert results[rejects].status == Status.PASS
    assert results[accepts].status == Status.FAIL
    assert f"{accept_log} captures ACCEPT traffic only" in results[accepts].reason


def test_flow_log_that_is_not_active_does_not_count():
    config = {
        "VpcId": "vpc-1",
        "FlowLogs": [
            {
                "FlowLogId": "fl-1",
                "FlowLogStatus": "INACTIVE",
                "TrafficType": "ALL",
                "ResourceId": "vpc-1",
            }
        ],
    }

    results = evaluate(
        "vpc.flow-logs-enabled", [record("AWS::EC2::VPC", "vpc-1", config)]
    )

    assert results["vpc-1"].status == Status.FAIL
    assert "fl-1 is INACTIVE" in results["vpc-1"].reason


def test_flow_logs_unreadable_is_an_error(aws, ec2):
    vpc_id = default_subnet(ec2)["VpcId"]
    flow_log(aws, vpc_id, "ALL")
    deny(aws, "ec2", "DescribeFlowLogs")

    results = run("vpc.flow-logs-enabled", aws)

    assert results[vpc_id].status == Status.ERROR


def test_subnet_auto_public_ip(aws, ec2):
    public = default_subnet(ec2)["SubnetId"]
    private = private_subnet(ec2)["SubnetId"]

    results = run("vpc.subnet.no-auto-public-ip", aws)

    assert results[public].status == Status.FAIL
    assert "MapPublicIpOnLaunch is true" in results[public].reason
    assert results[private].status == Status.PASS


def test_default_vpc_unused_until_something_is_launched_in_it(aws, ec2):
    subnet = default_subnet(ec2)
    other = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]

    before = run("vpc.default-vpc-unused", aws)
    launch(ec2, subnet["SubnetId"])
    after = run("vpc.default-vpc-unused", aws)

    assert before[subnet["VpcId"]].status == Status.PASS
    assert before[other].status == Status.NOT_APPLICABLE
    assert after[subnet["VpcId"]].status == Status.FAIL


def test_default_vpc_interfaces_unreadable_is_an_error(aws, ec2):
    vpc_id = default_subnet(ec2)["VpcId"]
    deny(aws, "ec2", "DescribeNetworkInterfaces")

    results = run("vpc.default-vpc-unused", aws)

    assert results[vpc_id].status == Status.ERROR
