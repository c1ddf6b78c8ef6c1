"""Redshift controls, evaluated on what the real collector reads from moto.

moto cannot set require_ssl (ModifyClusterParameterGroup is not implemented)
and reports it as "false" for every group, which is AWS's default. The
passing case is AWS's answer for a group with require_ssl = true, served by a
botocore ``before-call`` handler for that one group.
"""

import copy

import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from accounts.aws import forget_credentials, new_session
from collectors.base import ResourceRecord
from findings.controls import REGISTRY
from findings.controls.base import Severity, Status
from findings.testing import collect, deny, evaluate

SSL_GROUP = "require-ssl"


def serve_require_ssl(session) -> None:
    """AWS's DescribeClusterParameters answer for the SSL_GROUP group."""

    def handler(params, **kwargs):
        if params["body"].get("ParameterGroupName") != SSL_GROUP:
            return None  # moto answers for every other group
        parsed = {
            "Parameters": [
                {
                    "ParameterName": "require_ssl",
                    "ParameterValue": "true",
                    "Source": "user",
                    "DataType": "boolean",
                    "AllowedValues": "true,false",
                    "ApplyType": "static",
                    "IsModifiable": True,
                }
            ]
        }
        return AWSResponse("https://stub.invalid", 200, {}, None), parsed

    session.events.register("before-call.redshift.DescribeClusterParameters", handler)


def make_cluster(redshift, name, **kwargs):
    redshift.create_cluster(
        ClusterIdentifier=name,
        NodeType="dc2.large",
        MasterUsername="admin",
        MasterUserPassword="NotARealPassword1",
        ClusterType="single-node",
        **kwargs,
    )


@pytest.fixture(scope="module")
def world():
    with mock_aws():
        forget_credentials()
        session = new_session(region_name="us-east-1")
        redshift = session.client("redshift")
        redshift.create_cluster_parameter_group(
            ParameterGroupName=SSL_GROUP,
            ParameterGroupFamily="redshift-1.0",
            Description="TLS only",
        )
        make_cluster(
            redshift,
            "good",
            ClusterParameterGroupName=SSL_GROUP,
            Encrypted=True,
            PubliclyAccessible=False,
            EnhancedVpcRouting=True,
            AutomatedSnapshotRetentionPeriod=7,
        )
        make_cluster(
            redshift,
            "bad",
            Encrypted=False,
            PubliclyAccessible=True,
            EnhancedVpcRouting=False,
            AutomatedSnapshotRetentionPeriod=1,
        )
        make_cluster(redshift, "to-cloudwatch")
        session.client("s3").create_bucket(Bucket="audit-logs")
        redshift.enable_logging(
            ClusterIdentifier="good", BucketName="audit-logs", S3KeyPrefix="good/"
        )
        redshift.enable_logging(
            ClusterIdentifier="to-cloudwatch",
            LogDestinationType="cloudwatch",
            LogExports=["connectionlog", "userlog"],
        )
        serve_require_ssl(session)
        yield collect("redshift", session=session)
    forget_credentials()


def result(records, control_id, cluster):
    return evaluate(control_id, records)[cluster]


CATALOG = [
    ("redshift.not-public", Severity.CRITICAL, ("Redshift.1",)),
    ("redshift.encrypted", Severity.HIGH, ("Redshift.10",)),
    ("redshift.audit-logging", Severity.MEDIUM, ("Redshift.4",)),
    ("redshift.require-ssl", Severity.MEDIUM, ("Redshift.2",)),
    ("redshift.automated-snapshots", Severity.MEDIUM, ("Redshift.3",)),
    ("redshift.enhanced-vpc-routing", Severity.MEDIUM, ("Redshift.7",)),
]


@pytest.mark.parametrize(("control_id", "severity", "security_hub"), CATALOG)
def test_catalog_entry_matches_the_reference(control_id, severity, security_hub):
    ctl = REGISTRY[control_id]
    assert ctl.section == "service/database/redshift"
    assert ctl.severity == severity
    assert (ctl.cis_v3, ctl.cis_v4) == ("", "")
    assert ctl.security_hub == security_hub
    assert ctl.rationale
    assert ctl.remediation
    assert ctl.remediation_cli.startswith("aws redshift ")


def test_no_clusters_means_no_findings():
    for control_id, *_ in CATALOG:
        assert evaluate(control_id, []) == {}


@pytest.mark.parametrize(
    ("control_id", "cluster", "status", "words"),
    [
        ("redshift.not-public", "good", Status.PASS, "PubliclyAccessible is false"),
        ("redshift.not-public", "bad", Status.FAIL, "public IP"),
        ("redshift.encrypted", "good", Status.PASS, "encrypted with"),
        ("redshift.encrypted", "bad", Status.FAIL, "Encrypted false"),
        ("redshift.audit-logging", "good", Status.PASS, "s3://audit-logs/good/"),
        ("redshift.audit-logging", "to-cloudwatch", Status.PASS, "connectionlog"),
        ("redshift.audit-logging", "bad", Status.FAIL, "LoggingEnabled false"),
        ("redshift.require-ssl", "good", Status.PASS, f"group {SSL_GROUP}"),
        (
            "redshift.require-ssl",
            "bad",
            Status.FAIL,
            "require_ssl = false in parameter group default.redshift-1.0",
        ),
        ("redshift.automated-snapshots", "good", Status.PASS, "7 days"),
        ("redshift.automated-snapshots", "bad", Status.FAIL, "1 day(s)"),
        ("redshift.enhanced-vpc-routing", "good", Status.PASS, "on"),
        ("redshift.enhanced-vpc-routing", "bad", Status.FAIL, "leaves the VPC"),
    ],
)
def test_cluster_controls(world, control_id, cluster, status, words):
    outcome = result(world, control_id, cluster)
    assert outcome.status == status, outcome.reason
    assert words in outcome.reason


def test_require_ssl_not_yet_applied_fails(world):
    (good,) = [r for r in world if r.resource_id == "good"]
    config = copy.deepcopy(good.config)
    config["ClusterParameterGroups"][0]["ClusterParameterStatusList"] = [
        {"ParameterName": "require_ssl", "ParameterApplyStatus": "pending-reboot"}
    ]
    record = ResourceRecord(good.resource_type, "good", config, region="us-east-1")
    outcome = result([record], "redshift.require-ssl", "good")
    assert outcome.status == Status.FAIL
    assert "not applied yet (pending-reboot)" in outcome.reason


def test_snapshots_turned_off_fails(world):
    # moto turns a retention of 0 into its default of 1.
    (bad,) = [r for r in world if r.resource_id == "bad"]
    config = {**bad.config, "AutomatedSnapshotRetentionPeriod": 0}
    record = ResourceRecord(bad.resource_type, "bad", config, region="us-east-1")
    outcome = result([record], "redshift.automated-snapshots", "bad")
    assert outcome.status == Status.FAIL
    assert "turned off (retention 0)" in outcome.reason


def test_missing_public_flag_is_error(world):
    (good,) = [r for r in world if r.resource_id == "good"]
    config = {k: v for k, v in good.config.items() if k != "PubliclyAccessible"}
    record = ResourceRecord(good.resource_type, "good", config, region="us-east-1")
    assert result([record], "redshift.not-public", "good").status == Status.ERROR


@pytest.mark.parametrize(
    ("operation", "control_id"),
    [
        ("DescribeLoggingStatus", "redshift.audit-logging"),
        ("DescribeClusterParameters", "redshift.require-ssl"),
    ],
)
def test_denied_sub_call_is_error(world, operation, control_id):
    # The module's moto account is still active: collect it again, denied.
    session = new_session(region_name="us-east-1")
    deny(session, "redshift", operation)
    outcome = result(collect("redshift", session=session), control_id, "good")
    assert outcome.status == Status.ERROR
    assert operation in outcome.reason
