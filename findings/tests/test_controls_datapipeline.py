"""Data Pipeline controls, evaluated on what the real collector reads from moto.

One moto mock with the AWS managed IAM policies loaded (AdministratorAccess
must exist to be attached) serves the whole module; loading them costs
seconds. Each test uses its own pipeline and role names and a fresh boto3
session, so hooks registered by one test do not reach another.
"""

import json
import uuid

import pytest
from botocore.awsrequest import AWSResponse
from botocore.validate import ParamValidator
from moto import mock_aws

from accounts.aws import forget_credentials, new_session
from findings.controls.base import Status
from findings.testing import collect, deny, evaluate

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
PIPELINE_ROLE_POLICY = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "datapipeline.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


@pytest.fixture(scope="module")
def mock():
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        forget_credentials()
        yield
    forget_credentials()


@pytest.fixture
def aws(mock):
    # A new session per test (hooks stay with it) sharing the parsed models.
    return new_session(region_name="us-east-1")


def respond(session, operation: str, parsed: dict) -> None:
    """Answer ``datapipeline.operation`` with ``parsed`` (AWS-shaped)."""

    def handler(model, **kwargs):
        report = ParamValidator().validate(parsed, model.output_shape)
        assert not report.has_errors(), report.generate_report()
        http = AWSResponse("https://stub.invalid", 200, {}, None)
        return http, {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200}}

    session.events.register(f"before-call.data-pipeline.{operation}", handler)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_role(aws, *, policy_arn: str | None = None, inline: dict | None = None):
    name = unique("pipeline-role")
    iam = aws.client("iam")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    if policy_arn:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    if inline:
        iam.put_role_policy(
            RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(inline)
        )
    return name


def make_pipeline(aws, **default_fields: str) -> str:
    client = aws.client("datapipeline")
    pipeline_id = client.create_pipeline(name=unique("etl"), uniqueId=unique("u"))[
        "pipelineId"
    ]
    if default_fields:
        fields = [{"key": k, "stringValue": v} for k, v in default_fields.items()]
        fields.append({"key": "scheduleType", "stringValue": "ondemand"})
        client.put_pipeline_definition(
            pipelineId=pipeline_id,
            pipelineObjects=[{"id": "Default", "name": "Default", "fields": fields}],
        )
    return pipeline_id


def check(aws, control_id: str, pipeline_id: str):
    return evaluate(control_id, collect("datapipeline", session=aws))[pipeline_id]


# -- datapipeline.pipeline.logging ----------------------------------------------


def test_pipeline_with_log_uri_passes(aws):
    pipeline_id = make_pipeline(aws, pipelineLogUri="s3://logs-bucket/pipelines/")
    result = check(aws, "datapipeline.pipeline.logging", pipeline_id)
    assert result.status == Status.PASS
    assert result.reason == "logs go to s3://logs-bucket/pipelines/"


def test_pipeline_without_log_uri_fails(aws):
    pipeline_id = make_pipeline(aws, role="DataPipelineDefaultRole")
    result = check(aws, "datapipeline.pipeline.logging", pipeline_id)
    assert result.status == Status.FAIL
    assert "no pipelineLogUri" in result.reason


def test_pipeline_without_definition_is_not_applicable(aws):
    pipeline_id = make_pipeline(aws)
    result = check(aws, "datapipeline.pipeline.logging", pipeline_id)
    assert result.status == Status.NOT_APPLICABLE


def test_definition_denied_is_error(aws):
    pipeline_id = make_pipeline(aws, pipelineLogUri="s3://logs-bucket/p/")
    deny(aws, "data-pipeline", "GetPipelineDefinition")
    result = check(aws, "datapipeline.pipeline.logging", pipeline_id)
    assert result.status == Status.ERROR


# -- datapipeline.pipeline.roles-not-admin --------------------------------------


def test_least_privilege_roles_pass(aws):
    role = make_role(aws, policy_arn=PIPELINE_ROLE_POLICY)
    s3_only = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    resource_role = make_role(
        aws, inline={"Version": "2012-10-17", "Statement": [s3_only]}
    )
    pipeline_id = make_pipeline(aws, role=role, resourceRole=resource_role)
    result = check(aws, "datapipeline.pipeline.roles-not-admin", pipeline_id)
    assert result.status == Status.PASS


def test_administrator_access_attached_fails(aws):
    role = make_role(aws, policy_arn=ADMIN)
    pipeline_id = make_pipeline(aws, role=role)
    result = check(aws, "datapipeline.pipeline.roles-not-admin", pipeline_id)
    assert result.status == Status.FAIL
    assert result.reason == f"role {role} has AdministratorAccess attached"


def test_inline_full_access_fails(aws):
    inline = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"}
        ],
    }
    role = make_role(aws, inline=inline)
    pipeline_id = make_pipeline(aws, resourceRole=role)
    result = check(aws, "datapipeline.pipeline.roles-not-admin", pipeline_id)
    assert result.status == Status.FAIL
    assert result.reason == (
        f'role {role} inline policy inline statement "Everything" allows '
        'Action "*" on Resource "*"'
    )


def test_role_given_as_a_parameter_is_resolved(aws):
    role = make_role(aws, policy_arn=ADMIN)
    pipeline_id = make_pipeline(aws, pipelineLogUri="s3://logs/")
    # moto drops parameter values; this is AWS's answer for such a definition.
    respond(
        aws,
        "GetPipelineDefinition",
        {
            "pipelineObjects": [
                {
                    "id": "Default",
                    "name": "Default",
                    "fields": [{"key": "role", "stringValue": "#{myPipelineRole}"}],
                }
            ],
            "parameterObjects": [
                {
                    "id": "myPipelineRole",
                    "attributes": [{"key": "type", "stringValue": "String"}],
                }
            ],
            "parameterValues": [{"id": "myPipelineRole", "stringValue": role}],
        },
    )
    result = check(aws, "datapipeline.pipeline.roles-not-admin", pipeline_id)
    assert result.status == Status.FAIL
    assert role in result.reason


def test_deleted_role_grants_nothing(aws):
    pipeline_id = make_pipeline(aws, role=unique("deleted-role"))
    result = check(aws, "datapipeline.pipeline.roles-not-admin", pipeline_id)
    assert result.status == Status.PASS


def test_role_policies_denied_is_error(aws):
    role = make_role(aws, policy_arn=PIPELINE_ROLE_POLICY)
    pipeline_id = make_pipeline(aws, role=role)
    deny(aws, "iam", "ListAttachedRolePolicies")
    result = check(aws, "datapipeline.pipeline.roles-not-admin", pipeline_id)
    assert result.status == Status.ERROR
    assert role in result.reason
