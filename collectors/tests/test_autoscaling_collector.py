"""The Auto Scaling collector against moto: groups, templates, configurations."""

import json

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from collectors.services.autoscaling import AutoScalingCollector
from findings.testing import ACCOUNT_ID, collect, deny

GROUP = "AWS::AutoScaling::AutoScalingGroup"
TEMPLATE = "AWS::EC2::LaunchTemplate"
CONFIGURATION = "AWS::AutoScaling::LaunchConfiguration"
AMI = "ami-12345678"


def subnets(aws, count: int = 2) -> str:
    found = aws.client("ec2").describe_subnets()["Subnets"]
    by_zone = {s["AvailabilityZone"]: s["SubnetId"] for s in found}
    return ",".join(by_zone[zone] for zone in sorted(by_zone)[:count])


def make_template(aws, name: str = "web-template", **data) -> str:
    return aws.client("ec2").create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro", **data},
    )["LaunchTemplate"]["LaunchTemplateId"]


def make_group(aws, name: str, **kwargs) -> None:
    kwargs.setdefault("DesiredCapacity", 0)
    aws.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=0, MaxSize=2, **kwargs
    )


def by_id(records) -> dict:
    return {(r.resource_type, r.resource_id): r for r in records}


def test_groups_templates_and_configurations_are_linked(aws):
    template = make_template(
        aws, MetadataOptions={"HttpTokens": "required"}, UserData="c2VjcmV0"
    )
    aws.client("ec2").create_launch_template_version(
        LaunchTemplateId=template,
        LaunchTemplateData={
            "ImageId": AMI,
            "NetworkInterfaces": [{"DeviceIndex": 0, "AssociatePublicIpAddress": True}],
        },
    )
    make_group(
        aws,
        "web",
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
        VPCZoneIdentifier=subnets(aws),
        Tags=[{"Key": "team", "Value": "web", "PropagateAtLaunch": True}],
    )
    make_group(
        aws,
        "batch",
        MixedInstancesPolicy={
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateId": template},
                "Overrides": [{"InstanceType": "t3.small"}],
            }
        },
        AvailabilityZones=["us-east-1a"],
    )
    make_template(aws, name="unused-template")
    aws.client("autoscaling").create_launch_configuration(
        LaunchConfigurationName="legacy-config",
        ImageId=AMI,
        InstanceType="t3.micro",
        UserData="secret",
        AssociatePublicIpAddress=True,
    )
    make_group(
        aws,
        "legacy",
        LaunchConfigurationName="legacy-config",
        AvailabilityZones=["us-east-1a"],
    )

    records = by_id(collect("autoscaling", session=aws))

    web = records[(GROUP, "web")]
    assert web.arn.startswith(f"arn:aws:autoscaling:us-east-1:{ACCOUNT_ID}:")
    assert web.tags == {"team": "web"}
    assert web.config["AvailabilityZones"] == ["us-east-1a", "us-east-1b"]
    assert "Instances" not in web.config
    assert "DesiredCapacity" not in web.config

    used = records[(TEMPLATE, template)]
    assert used.name == "web-template"
    assert used.arn == (
        f"arn:aws:ec2:us-east-1:{ACCOUNT_ID}:launch-template/{template}"
    )
    assert used.config["UsedBy"] == ["batch", "web"]
    assert used.config["VersionsInUse"] == [
        {
            "VersionNumber": 1,
            "RequestedAs": ["$Default"],
            "UsedBy": ["batch"],
            "LaunchTemplateData": {
                "ImageId": AMI,
                "InstanceType": "t3.micro",
                "MetadataOptions": {"HttpTokens": "required"},
            },
        },
        {
            "VersionNumber": 2,
            "RequestedAs": ["$Latest"],
            "UsedBy": ["web"],
            "LaunchTemplateData": {
                "ImageId": AMI,
                "NetworkInterfaces": [
                    {"AssociatePublicIpAddress": True, "DeviceIndex": 0}
                ],
            },
        },
    ]
    assert "secret" not in json.dumps(used.config)

    unused = [r for (t, _), r in records.items() if r.name == "unused-template"]
    assert unused[0].config["UsedBy"] == []
    assert "VersionsInUse" not in unused[0].config

    configuration = records[(CONFIGURATION, "legacy-config")]
    assert configuration.config["UsedBy"] == ["legacy"]
    assert configuration.config["AssociatePublicIpAddress"] is True
    assert "UserData" not in configuration.config


def test_denied_version_lookup_is_recorded_on_the_template(aws):
    template = make_template(aws)
    make_group(
        aws,
        "web",
        LaunchTemplate={"LaunchTemplateId": template, "Version": "1"},
        AvailabilityZones=["us-east-1a"],
    )
    deny(aws, "ec2", "DescribeLaunchTemplateVersions")

    record = by_id(collect("autoscaling", session=aws))[(TEMPLATE, template)]

    assert record.config["UsedBy"] == ["web"]
    assert record.config["VersionsInUse"] is None
    assert record.config["_errors"]["VersionsInUse"].startswith("access_denied")


def test_version_that_no_longer_exists_is_an_error_not_an_empty_list(aws):
    template = make_template(aws)
    make_group(
        aws,
        "web",
        LaunchTemplate={"LaunchTemplateId": template, "Version": "7"},
        AvailabilityZones=["us-east-1a"],
    )

    record = by_id(collect("autoscaling", session=aws))[(TEMPLATE, template)]

    assert record.config["VersionsInUse"] is None
    assert "VersionNotFound" in record.config["_errors"]["VersionsInUse"]


def test_version_missing_from_a_successful_answer_is_an_error(aws):
    template = make_template(aws)
    make_group(
        aws,
        "web",
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
        AvailabilityZones=["us-east-1a"],
    )

    def empty(**kwargs):
        http = AWSResponse("https://stub.invalid", 200, {}, None)
        return http, {
            "LaunchTemplateVersions": [],
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }

    aws.events.register("before-call.ec2.DescribeLaunchTemplateVersions", empty)

    record = by_id(collect("autoscaling", session=aws))[(TEMPLATE, template)]

    assert record.config["VersionsInUse"] is None
    assert record.config["_errors"]["VersionsInUse"] == (
        f"other: version $Latest of {template} was not returned"
    )


def test_every_listing_follows_its_next_token(aws, monkeypatch):
    autoscaling = aws.client("autoscaling")
    for index in range(3):
        name = f"config-{index}"
        autoscaling.create_launch_configuration(
            LaunchConfigurationName=name, ImageId=AMI, InstanceType="t3.micro"
        )
        make_group(
            aws,
            f"group-{index}",
            LaunchConfigurationName=name,
            AvailabilityZones=["us-east-1a"],
        )
    monkeypatch.setattr(AutoScalingCollector, "page_size", 2)
    tokens: list[str | None] = []

    def remember(params, **kwargs):
        tokens.append(params.get("NextToken"))

    aws.events.register(
        "before-parameter-build.auto-scaling.DescribeAutoScalingGroups", remember
    )

    records = collect("autoscaling", session=aws)

    groups = sorted(r.resource_id for r in records if r.resource_type == GROUP)
    assert groups == ["group-0", "group-1", "group-2"]
    assert tokens[0] is None and tokens[1] is not None
    configurations = [r for r in records if r.resource_type == CONFIGURATION]
    assert len(configurations) == 3


@pytest.mark.parametrize(
    ("service", "operation"),
    [
        ("autoscaling", "DescribeAutoScalingGroups"),
        ("ec2", "DescribeLaunchTemplates"),
        ("autoscaling", "DescribeLaunchConfigurations"),
    ],
)
def test_denied_listing_raises(aws, service, operation):
    deny(aws, service, operation)

    with pytest.raises(ClientError) as exc:
        collect("autoscaling", session=aws)

    assert exc.value.response["Error"]["Code"] == "AccessDenied"


def test_config_is_stable_for_unchanged_groups(aws):
    template = make_template(aws)
    make_group(
        aws,
        "web",
        LaunchTemplate={"LaunchTemplateId": template},
        AvailabilityZones=["us-east-1a"],
        DesiredCapacity=1,
    )

    first = {r.resource_id: r.config for r in collect("autoscaling", session=aws)}
    aws.client("autoscaling").set_desired_capacity(
        AutoScalingGroupName="web", DesiredCapacity=2
    )
    second = {r.resource_id: r.config for r in collect("autoscaling", session=aws)}

    # Scaling in or out is not a configuration change.
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
