"""DynamoDB and DAX controls, evaluated on what the real collectors read from moto."""

import pytest
from moto import mock_aws

from accounts.aws import forget_credentials, new_session
from collectors.base import ResourceRecord
from findings.controls import REGISTRY
from findings.controls.base import Severity, Status
from findings.testing import ACCOUNT_ID, collect, deny, evaluate

KEY_ARN_PREFIX = f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/"


def make_table(dynamodb, name, **kwargs):
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        **kwargs,
    )


def make_dax(dax, name, **kwargs):
    dax.create_cluster(
        ClusterName=name,
        NodeType="dax.t3.small",
        ReplicationFactor=1,
        IamRoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/dax-access",
        **kwargs,
    )


@pytest.fixture(scope="module")
def world():
    with mock_aws():
        forget_credentials()
        session = new_session(region_name="us-east-1")
        dynamodb = session.client("dynamodb")
        make_table(
            dynamodb,
            "good",
            DeletionProtectionEnabled=True,
            SSESpecification={"Enabled": True, "SSEType": "KMS"},
        )
        dynamodb.update_continuous_backups(
            TableName="good",
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
        make_table(dynamodb, "bad")
        dax = session.client("dax")
        make_dax(
            dax,
            "sealed",
            SSESpecification={"Enabled": True},
            ClusterEndpointEncryptionType="TLS",
        )
        make_dax(dax, "at-rest-only", SSESpecification={"Enabled": True})
        make_dax(dax, "open")
        yield collect("dynamodb", session=session) + collect("dax", session=session)
    forget_credentials()


CATALOG = [
    ("dynamodb.table.pitr", Severity.MEDIUM, ("DynamoDB.2",)),
    ("dynamodb.table.kms-encryption", Severity.LOW, ()),
    ("dynamodb.table.deletion-protection", Severity.MEDIUM, ("DynamoDB.6",)),
    ("dax.cluster.encrypted", Severity.MEDIUM, ("DynamoDB.3", "DynamoDB.7")),
]


@pytest.mark.parametrize(("control_id", "severity", "security_hub"), CATALOG)
def test_catalog_entry_matches_the_reference(control_id, severity, security_hub):
    ctl = REGISTRY[control_id]
    assert ctl.section == "service/database/dynamodb"
    assert ctl.severity == severity
    assert (ctl.cis_v3, ctl.cis_v4) == ("", "")
    assert ctl.security_hub == security_hub
    assert ctl.rationale
    assert ctl.remediation
    assert ctl.remediation_cli.startswith(("aws dynamodb ", "aws dax "))


def test_no_tables_means_no_findings():
    for control_id, *_ in CATALOG:
        assert evaluate(control_id, []) == {}


@pytest.mark.parametrize(
    ("control_id", "resource_id", "status", "words"),
    [
        ("dynamodb.table.pitr", "good", Status.PASS, "35-day recovery period"),
        ("dynamodb.table.pitr", "bad", Status.FAIL, "disabled"),
        ("dynamodb.table.kms-encryption", "good", Status.PASS, KEY_ARN_PREFIX),
        ("dynamodb.table.kms-encryption", "bad", Status.FAIL, "AWS owned key"),
        ("dynamodb.table.deletion-protection", "good", Status.PASS, "on"),
        ("dynamodb.table.deletion-protection", "bad", Status.FAIL, "one call"),
        ("dax.cluster.encrypted", "sealed", Status.PASS, "TLS"),
        (
            "dax.cluster.encrypted",
            "at-rest-only",
            Status.FAIL,
            "cluster endpoint encryption is NONE",
        ),
        (
            "dax.cluster.encrypted",
            "open",
            Status.FAIL,
            "encryption at rest is disabled; cluster endpoint encryption is NONE",
        ),
    ],
)
def test_controls(world, control_id, resource_id, status, words):
    outcome = evaluate(control_id, world)[resource_id]
    assert outcome.status == status, outcome.reason
    assert words in outcome.reason


def test_sse_still_being_enabled_fails(world):
    (good,) = [r for r in world if r.resource_id == "good"]
    table = {
        **good.config["Table"],
        "SSEDescription": {"Status": "UPDATING", "SSEType": "KMS"},
    }
    record = ResourceRecord(
        good.resource_type, "good", {**good.config, "Table": table}, region="us-east-1"
    )
    outcome = evaluate("dynamodb.table.kms-encryption", [record])["good"]
    assert outcome.status == Status.FAIL
    assert "status UPDATING" in outcome.reason


@pytest.mark.parametrize(
    ("operation", "control_id"),
    [
        ("DescribeContinuousBackups", "dynamodb.table.pitr"),
        ("DescribeTable", "dynamodb.table.kms-encryption"),
        ("DescribeTable", "dynamodb.table.deletion-protection"),
    ],
)
def test_denied_sub_call_is_error(world, operation, control_id):
    # The module's moto account is still active: collect it again, denied.
    session = new_session(region_name="us-east-1")
    deny(session, "dynamodb", operation)
    outcome = evaluate(control_id, collect("dynamodb", session=session))["good"]
    assert outcome.status == Status.ERROR
    assert operation in outcome.reason
