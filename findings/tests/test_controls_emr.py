"""EMR controls, evaluated on what the real collector reads from moto.

Where moto differs from AWS (every primary node it launches gets a public IP,
block public access reads as empty until set and cannot be turned off,
ListSecurityConfigurations is missing), AWS's answer is served through a
botocore hook checked against the API's output shape, so collector and
control see what AWS would return.
"""

import json
from datetime import UTC, datetime

import pytest
from botocore.awsrequest import AWSResponse
from botocore.validate import ParamValidator

from findings.controls.base import Status
from findings.testing import collect, deny, evaluate

REGION = "us-east-1"


def respond(session, operation: str, parsed: dict) -> None:
    """Answer ``emr.operation`` with ``parsed``, an AWS-shaped response."""

    def handler(model, **kwargs):
        report = ParamValidator().validate(parsed, model.output_shape)
        assert not report.has_errors(), report.generate_report()
        http = AWSResponse("https://stub.invalid", 200, {}, None)
        return http, {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200}}

    session.events.register(f"before-call.emr.{operation}", handler)


def results(aws, control_id: str) -> dict:
    return evaluate(control_id, collect("emr", session=aws))


def run_cluster(aws, security_configuration: str | None = None) -> str:
    kwargs = {"SecurityConfiguration": security_configuration}
    return aws.client("emr").run_job_flow(
        Name="etl",
        ReleaseLabel="emr-7.1.0",
        Instances={
            "InstanceGroups": [
                {
                    "InstanceRole": "MASTER",
                    "InstanceType": "m5.xlarge",
                    "InstanceCount": 1,
                }
            ],
            "KeepJobFlowAliveWhenNoSteps": True,
        },
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
        **{k: v for k, v in kwargs.items() if v},
    )["JobFlowId"]


def security_configuration(aws, name: str, at_rest: bool, in_transit: bool) -> None:
    encryption = {
        "EnableAtRestEncryption": at_rest,
        "EnableInTransitEncryption": in_transit,
    }
    if at_rest:
        encryption["AtRestEncryptionConfiguration"] = {
            "S3EncryptionConfiguration": {"EncryptionMode": "SSE-S3"}
        }
    aws.client("emr").create_security_configuration(
        Name=name,
        SecurityConfiguration=json.dumps({"EncryptionConfiguration": encryption}),
    )


def test_no_clusters_means_no_cluster_findings(aws):
    records = collect("emr", session=aws)
    for control_id in (
        "emr.cluster.primary-no-public-ip",
        "emr.cluster.security-configuration",
        "emr.security-configuration.encryption",
    ):
        assert evaluate(control_id, records) == {}


# -- emr.block-public-access ----------------------------------------------------


def put_block(aws, block: bool, *ranges: tuple[int, int]) -> None:
    aws.client("emr").put_block_public_access_configuration(
        BlockPublicAccessConfiguration={
            "BlockPublicSecurityGroupRules": block,
            "PermittedPublicSecurityGroupRuleRanges": [
                {"MinRange": low, "MaxRange": high} for low, high in ranges
            ],
        }
    )


def test_block_public_access_with_ssh_only_passes(aws):
    put_block(aws, True, (22, 22))
    result = results(aws, "emr.block-public-access")[REGION]
    assert result.status == Status.PASS
    assert result.reason == "block public access is on; ports permitted publicly: 22"


def test_aws_default_configuration_passes(aws):
    # What AWS returns for an account that never changed the setting.
    respond(
        aws,
        "GetBlockPublicAccessConfiguration",
        {
            "BlockPublicAccessConfiguration": {
                "BlockPublicSecurityGroupRules": True,
                "PermittedPublicSecurityGroupRuleRanges": [{"MinRange": 22}],
            },
            "BlockPublicAccessConfigurationMetadata": {
                "CreationDateTime": datetime(2019, 8, 1, tzinfo=UTC),
                "CreatedByArn": "arn:aws:iam::123456789012:root",
            },
        },
    )
    assert results(aws, "emr.block-public-access")[REGION].status == Status.PASS


def test_block_public_access_off_fails(aws):
    # moto stores BlockPublicSecurityGroupRules=false as true: AWS's answer.
    respond(
        aws,
        "GetBlockPublicAccessConfiguration",
        {
            "BlockPublicAccessConfiguration": {
                "BlockPublicSecurityGroupRules": False,
                "PermittedPublicSecurityGroupRuleRanges": [{"MinRange": 22}],
            },
            "BlockPublicAccessConfigurationMetadata": {
                "CreationDateTime": datetime(2024, 3, 1, tzinfo=UTC),
                "CreatedByArn": "arn:aws:iam::123456789012:role/admin",
            },
        },
    )
    result = results(aws, "emr.block-public-access")[REGION]
    assert result.status == Status.FAIL
    assert "block public access is off in us-east-1" in result.reason


def test_never_configured_in_moto_fails(aws):
    # moto returns an empty configuration; nothing in it says the block is on.
    assert results(aws, "emr.block-public-access")[REGION].status == Status.FAIL


def test_extra_public_ports_fail(aws):
    put_block(aws, True, (22, 22), (8080, 8090))
    result = results(aws, "emr.block-public-access")[REGION]
    assert result.status == Status.FAIL
    assert "port 8080-8090 (only 22 is allowed)" in result.reason


def test_block_public_access_denied_is_error(aws):
    put_block(aws, True, (22, 22))
    deny(aws, "emr", "GetBlockPublicAccessConfiguration")
    assert results(aws, "emr.block-public-access")[REGION].status == Status.ERROR


# -- emr.cluster.primary-no-public-ip -------------------------------------------


def test_primary_with_public_ip_fails(aws):
    cluster_id = run_cluster(aws)
    result = results(aws, "emr.cluster.primary-no-public-ip")[cluster_id]
    assert result.status == Status.FAIL
    assert result.reason.startswith("primary node has a public IP address: i-")


def test_primary_in_private_subnet_passes(aws):
    cluster_id = run_cluster(aws)
    respond(
        aws,
        "ListInstances",
        {
            "Instances": [
                {
                    "Id": "ci-0PRIMARY",
                    "Ec2InstanceId": "i-0123456789abcdef0",
                    "PrivateDnsName": "ip-10-0-1-5.ec2.internal",
                    "PrivateIpAddress": "10.0.1.5",
                    "Status": {"State": "RUNNING"},
                    "InstanceGroupId": "ig-PRIMARY",
                    "Market": "ON_DEMAND",
                    "InstanceType": "m5.xlarge",
                }
            ]
        },
    )
    result = results(aws, "emr.cluster.primary-no-public-ip")[cluster_id]
    assert result.status == Status.PASS
    assert result.reason == "1 primary node(s), none with a public IP address"


def test_list_instances_denied_is_error(aws):
    cluster_id = run_cluster(aws)
    deny(aws, "emr", "ListInstances")
    result = results(aws, "emr.cluster.primary-no-public-ip")[cluster_id]
    assert result.status == Status.ERROR


# -- emr.cluster.security-configuration -----------------------------------------


def test_cluster_with_security_configuration_passes(aws):
    security_configuration(aws, "encrypted", True, True)
    cluster_id = run_cluster(aws, "encrypted")
    result = results(aws, "emr.cluster.security-configuration")[cluster_id]
    assert result.status == Status.PASS
    assert result.reason == "uses security configuration encrypted"


def test_cluster_without_security_configuration_fails(aws):
    cluster_id = run_cluster(aws)
    result = results(aws, "emr.cluster.security-configuration")[cluster_id]
    assert result.status == Status.FAIL


def test_describe_cluster_denied_is_error(aws):
    security_configuration(aws, "encrypted", True, True)
    cluster_id = run_cluster(aws, "encrypted")
    deny(aws, "emr", "DescribeCluster")
    respond(
        aws,
        "ListSecurityConfigurations",
        {
            "SecurityConfigurations": [
                {"Name": "encrypted", "CreationDateTime": datetime(2025, 1, 1)}
            ]
        },
    )
    records = collect("emr", session=aws)
    result = evaluate("emr.cluster.security-configuration", records)[cluster_id]
    assert result.status == Status.ERROR
    # Its configuration is still collected, through the full listing.
    encryption = evaluate("emr.security-configuration.encryption", records)
    assert encryption["encrypted"].status == Status.PASS


# -- emr.security-configuration.encryption --------------------------------------


def test_encryption_at_rest_and_in_transit_passes(aws):
    security_configuration(aws, "encrypted", True, True)
    run_cluster(aws, "encrypted")
    result = results(aws, "emr.security-configuration.encryption")["encrypted"]
    assert result.status == Status.PASS


@pytest.mark.parametrize(
    ("at_rest", "in_transit", "reason"),
    [
        (True, False, "encryption in transit is off"),
        (False, True, "encryption at rest is off"),
        (False, False, "encryption at rest and in transit is off"),
    ],
)
def test_missing_encryption_fails(aws, at_rest, in_transit, reason):
    security_configuration(aws, "partial", at_rest, in_transit)
    run_cluster(aws, "partial")
    result = results(aws, "emr.security-configuration.encryption")["partial"]
    assert result.status == Status.FAIL
    assert result.reason == reason


def test_unused_security_configuration_is_not_evaluated(aws):
    security_configuration(aws, "spare", False, False)
    run_cluster(aws)
    assert results(aws, "emr.security-configuration.encryption") == {}


def test_describe_security_configuration_denied_is_error(aws):
    security_configuration(aws, "encrypted", True, True)
    run_cluster(aws, "encrypted")
    deny(aws, "emr", "DescribeSecurityConfiguration")
    result = results(aws, "emr.security-configuration.encryption")["encrypted"]
    assert result.status == Status.ERROR
