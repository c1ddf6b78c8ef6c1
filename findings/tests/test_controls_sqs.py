"""SQS controls, evaluated on what the real collector reads from moto."""

import json

import pytest

from findings.controls.base import Status
from findings.testing import collect, deny, evaluate

ACCOUNT = "123456789012"


def check(aws, control_id: str, queue: str = "orders"):
    return evaluate(control_id, collect("sqs", session=aws))[queue]


def make_queue(aws, name: str = "orders", **attributes: str) -> str:
    return aws.client("sqs").create_queue(QueueName=name, Attributes=attributes)[
        "QueueUrl"
    ]


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow_everyone(condition: dict | None = None, sid: str = "") -> dict:
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "sqs:SendMessage",
        "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders",
    }
    if sid:
        statement["Sid"] = sid
    if condition:
        statement["Condition"] = condition
    return statement


def test_no_queues_means_no_findings(aws):
    records = collect("sqs", session=aws)
    assert evaluate("sqs.queue.sse", records) == {}
    assert evaluate("sqs.queue.no-public-policy", records) == {}


# -- sqs.queue.sse --------------------------------------------------------------


def test_sse_sqs_passes(aws):
    make_queue(aws, SqsManagedSseEnabled="true")
    result = check(aws, "sqs.queue.sse")
    assert result.status == Status.PASS
    assert "SSE-SQS" in result.reason


def test_sse_kms_passes(aws):
    make_queue(aws, KmsMasterKeyId="alias/orders")
    result = check(aws, "sqs.queue.sse")
    assert result.status == Status.PASS
    assert result.reason == "encrypted with SSE-KMS (key alias/orders)"


def test_unencrypted_queue_fails(aws):
    make_queue(aws, SqsManagedSseEnabled="false")
    result = check(aws, "sqs.queue.sse")
    assert result.status == Status.FAIL
    assert "SqsManagedSseEnabled is not true" in result.reason


def test_sse_attributes_denied_is_error(aws):
    make_queue(aws)
    deny(aws, "sqs", "GetQueueAttributes")
    assert check(aws, "sqs.queue.sse").status == Status.ERROR


# -- sqs.queue.no-public-policy -------------------------------------------------


def test_queue_without_policy_passes(aws):
    make_queue(aws)
    result = check(aws, "sqs.queue.no-public-policy")
    assert result.status == Status.PASS
    assert "no access policy" in result.reason


@pytest.mark.parametrize(
    "condition",
    [
        {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:t"}},
        {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        {"StringEquals": {"aws:PrincipalOrgID": "o-abcdef1234"}},
        {"StringEquals": {"aws:SourceVpce": "vpce-0a1b2c3d"}},
    ],
)
def test_everyone_with_restricting_condition_passes(aws, condition):
    make_queue(aws, Policy=policy(allow_everyone(condition)))
    assert check(aws, "sqs.queue.no-public-policy").status == Status.PASS


def test_account_principal_passes(aws):
    statement = allow_everyone()
    statement["Principal"] = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    make_queue(aws, Policy=policy(statement))
    assert check(aws, "sqs.queue.no-public-policy").status == Status.PASS


def test_public_queue_policy_fails(aws):
    make_queue(aws, Policy=policy(allow_everyone(sid="Anyone")))
    result = check(aws, "sqs.queue.no-public-policy")
    assert result.status == Status.FAIL
    assert result.reason == (
        'queue policy statement "Anyone" allows Principal * on sqs:SendMessage '
        "without a condition"
    )


def test_loose_condition_is_still_public(aws):
    # StringLike with a wildcard matches every account.
    condition = {"StringLike": {"aws:SourceAccount": "*"}}
    make_queue(aws, Policy=policy(allow_everyone(condition)))
    result = check(aws, "sqs.queue.no-public-policy")
    assert result.status == Status.FAIL
    assert "statement 1" in result.reason


def test_policy_denied_is_error(aws):
    make_queue(aws, Policy=policy(allow_everyone()))
    deny(aws, "sqs", "GetQueueAttributes")
    assert check(aws, "sqs.queue.no-public-policy").status == Status.ERROR
