"""Auto Scaling controls, evaluated on what the real collector reads from moto.

The two launch-settings controls also cover launch configurations, a second
resource type the engine cannot yet route to them (see
findings/controls/autoscaling.py); that half is exercised by evaluating the
control directly on launch configuration records.
"""

from datetime import UTC, datetime

import pytest

from findings.controls import REGISTRY
from findings.controls.base import Severity, StaticContext, Status
from findings.testing import ACCOUNT_ID, collect, deny, evaluate, view

GROUP = "AWS::AutoScaling::AutoScalingGroup"
TEMPLATE = "AWS::EC2::LaunchTemplate"
CONFIGURATION = "AWS::AutoScaling::LaunchConfiguration"
AMI = "ami-12345678"
SECURE = {
    "MetadataOptions": {"HttpTokens": "required"},
    "NetworkInterfaces": [{"DeviceIndex": 0, "AssociatePublicIpAddress": False}],
}

CATALOG = [
    # id, severity, resource type, Security Hub
    ("asg.multi-az", Severity.MEDIUM, GROUP, ("AutoScaling.2",)),
    ("asg.uses-launch-template", Severity.MEDIUM, GROUP, ("AutoScaling.9",)),
    ("asg.imdsv2-required", Severity.HIGH, TEMPLATE, ("EC2.170", "AutoScaling.3")),
    ("asg.no-public-ip", Severity.HIGH, TEMPLATE, ("EC2.25", "Autoscaling.5")),
]


@pytest.mark.parametrize(("control_id", "severity", "rtype", "security_hub"), CATALOG)
def test_catalog_entry_matches_the_reference(control_id, severity, rtype, security_hub):
    ctl = REGISTRY[control_id]
    assert ctl.section == "service/compute/ec2/auto-scaling"
    assert ctl.severity == severity
    assert ctl.resource_type == rtype
    assert (ctl.cis_v3, ctl.cis_v4) == ("", "")
    assert ctl.security_hub == security_hub
    assert ctl.rationale and ctl.remediation
    assert ctl.remediation_cli.startswith("aws ")


def test_no_groups_means_no_findings(aws):
    records = collect("autoscaling", session=aws)
    for control_id, *_ in CATALOG:
        assert evaluate(control_id, records) == {}


# -- helpers ---------------------------------------------------------------------------


def subnets(aws, count: int) -> str:
    found = aws.client("ec2").describe_subnets()["Subnets"]
    by_zone = {s["AvailabilityZone"]: s["SubnetId"] for s in found}
    return ",".join(by_zone[zone] for zone in sorted(by_zone)[:count])


def make_template(aws, name: str = "web-template", **data) -> str:
    return aws.client("ec2").create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": AMI, **data}
    )["LaunchTemplate"]["LaunchTemplateId"]


def make_group(aws, name: str = "web", zones: int = 2, **kwargs) -> None:
    aws.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=name,
        MinSize=0,
        MaxSize=2,
        DesiredCapacity=0,
        VPCZoneIdentifier=subnets(aws, zones),
        **kwargs,
    )


def group_on_template(aws, version: str = "$Default", **data) -> str:
    template = make_template(aws, **data)
    make_group(aws, LaunchTemplate={"LaunchTemplateId": template, "Version": version})
    return template


def group_on_configuration(aws, **settings) -> None:
    aws.client("autoscaling").create_launch_configuration(
        LaunchConfigurationName="legacy-config",
        ImageId=AMI,
        InstanceType="t3.micro",
        **settings,
    )
    make_group(aws, "legacy", LaunchConfigurationName="legacy-config")


def check(aws, control_id: str, resource_id: str):
    return evaluate(control_id, collect("autoscaling", session=aws))[resource_id]


def check_configuration(aws, control_id: str):
    """The control's check on the launch configuration, as the engine will run it."""
    records = collect("autoscaling", session=aws)
    ctx = StaticContext(
        account_id=ACCOUNT_ID, now=datetime.now(UTC), regions=["us-east-1"]
    )
    (configuration,) = [view(r) for r in records if r.resource_type == CONFIGURATION]
    return REGISTRY[control_id].evaluate(configuration, ctx)


# -- asg.multi-az and asg.uses-launch-template -----------------------------------------


def test_group_in_two_zones_passes(aws):
    group_on_template(aws)
    result = check(aws, "asg.multi-az", "web")
    assert result.status == Status.PASS
    assert result.reason == "spans 2 AZs: us-east-1a, us-east-1b"


def test_group_in_one_zone_fails(aws):
    make_group(aws, zones=1, LaunchTemplate={"LaunchTemplateId": make_template(aws)})
    result = check(aws, "asg.multi-az", "web")
    assert result.status == Status.FAIL
    assert result.reason == "launches into one AZ only: us-east-1a"


def test_group_on_a_launch_template_passes(aws):
    group_on_template(aws, version="$Latest")
    result = check(aws, "asg.uses-launch-template", "web")
    assert result.status == Status.PASS
    assert result.reason == "launches from launch template web-template ($Latest)"


def test_group_on_a_mixed_instances_template_passes(aws):
    template = make_template(aws)
    make_group(
        aws,
        MixedInstancesPolicy={
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateId": template},
                "Overrides": [{"InstanceType": "t3.small"}],
            }
        },
    )
    assert check(aws, "asg.uses-launch-template", "web").status == Status.PASS


def test_group_on_a_launch_configuration_fails(aws):
    group_on_configuration(aws)
    result = check(aws, "asg.uses-launch-template", "legacy")
    assert result.status == Status.FAIL
    assert result.reason == "launches from launch configuration legacy-config"


# -- asg.imdsv2-required ---------------------------------------------------------------

IMDS = "asg.imdsv2-required"


def test_template_requiring_tokens_passes(aws):
    template = group_on_template(aws, **SECURE)
    assert check(aws, IMDS, template).status == Status.PASS


def test_template_allowing_imdsv1_fails_naming_version_and_group(aws):
    template = group_on_template(aws, MetadataOptions={"HttpTokens": "optional"})
    result = check(aws, IMDS, template)
    assert result.status == Status.FAIL
    assert result.reason == (
        "version 1 (used by web): HttpTokens is optional, so IMDSv1 is allowed"
    )


def test_template_without_metadata_options_fails(aws):
    template = group_on_template(aws)
    result = check(aws, IMDS, template)
    assert result.status == Status.FAIL
    assert "HttpTokens is not set" in result.reason


def test_only_the_version_in_use_counts(aws):
    # Version 1 is insecure but no group launches from it any more.
    template = make_template(aws, MetadataOptions={"HttpTokens": "optional"})
    aws.client("ec2").create_launch_template_version(
        LaunchTemplateId=template, LaunchTemplateData={"ImageId": AMI, **SECURE}
    )
    make_group(aws, LaunchTemplate={"LaunchTemplateId": template, "Version": "2"})
    assert check(aws, IMDS, template).status == Status.PASS


def test_unused_template_is_not_applicable(aws):
    template = make_template(aws)
    result = check(aws, IMDS, template)
    assert result.status == Status.NOT_APPLICABLE
    assert result.reason == "launch template not used by any Auto Scaling group"


def test_denied_versions_are_an_error(aws):
    template = group_on_template(aws, **SECURE)
    deny(aws, "ec2", "DescribeLaunchTemplateVersions")
    records = collect("autoscaling", session=aws)
    for control_id in (IMDS, "asg.no-public-ip"):
        assert evaluate(control_id, records)[template].status == Status.ERROR


def test_launch_configuration_imds(aws):
    group_on_configuration(aws, MetadataOptions={"HttpTokens": "required"})
    assert check_configuration(aws, IMDS).status == Status.PASS


def test_launch_configuration_allowing_imdsv1_fails(aws):
    group_on_configuration(aws, MetadataOptions={"HttpTokens": "optional"})
    result = check_configuration(aws, IMDS)
    assert result.status == Status.FAIL
    assert result.reason.startswith("launch configuration legacy-config:")


# -- asg.no-public-ip ------------------------------------------------------------------


def test_template_without_public_ip_passes(aws):
    template = group_on_template(aws, **SECURE)
    result = check(aws, "asg.no-public-ip", template)
    assert result.status == Status.PASS


def test_template_assigning_public_ip_fails(aws):
    template = group_on_template(
        aws,
        NetworkInterfaces=[{"DeviceIndex": 0, "AssociatePublicIpAddress": True}],
    )
    result = check(aws, "asg.no-public-ip", template)
    assert result.status == Status.FAIL
    assert result.reason == (
        "version 1 (used by web): AssociatePublicIpAddress is true (device index 0)"
    )


def test_unused_template_is_not_applicable_to_public_ip(aws):
    template = make_template(
        aws, NetworkInterfaces=[{"DeviceIndex": 0, "AssociatePublicIpAddress": True}]
    )
    assert check(aws, "asg.no-public-ip", template).status == Status.NOT_APPLICABLE


def test_launch_configuration_public_ip(aws):
    group_on_configuration(aws, AssociatePublicIpAddress=True)
    assert check_configuration(aws, "asg.no-public-ip").status == Status.FAIL


def test_launch_configuration_without_public_ip_passes(aws):
    group_on_configuration(aws, AssociatePublicIpAddress=False)
    assert check_configuration(aws, "asg.no-public-ip").status == Status.PASS


def test_unused_launch_configuration_is_not_applicable(aws):
    aws.client("autoscaling").create_launch_configuration(
        LaunchConfigurationName="spare", ImageId=AMI, InstanceType="t3.micro"
    )
    result = check_configuration(aws, "asg.no-public-ip")
    assert result.status == Status.NOT_APPLICABLE
    assert result.reason == "launch configuration not used by any Auto Scaling group"
