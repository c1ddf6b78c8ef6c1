"""SNS controls, evaluated on what the real collector reads from moto.

Unconfirmed subscriptions (which moto never leaves pending) are served as AWS
lists them, through a botocore hook checked against the API's output shape.
"""

import json

from botocore.awsrequest import AWSResponse
from botocore.validate import ParamValidator

from findings.controls.base import Status
from findings.testing import collect, deny, evaluate

ACCOUNT = "123456789012"
TOPIC_ARN = f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts"


def respond(session, operation: str, parsed: dict) -> None:
    """Answer ``sns.operation`` with ``parsed``, an AWS-shaped response."""

    def handler(model, **kwargs):
        report = ParamValidator().validate(parsed, model.output_shape)
        assert not report.has_errors(), report.generate_report()
        http = AWSResponse("https://stub.invalid", 200, {}, None)
        return http, {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200}}

    session.events.register(f"before-call.sns.{operation}", handler)


def results(aws, control_id: str) -> dict:
    return evaluate(control_id, collect("sns", session=aws))


def make_topic(aws, **attributes: str) -> str:
    return aws.client("sns").create_topic(Name="alerts", Attributes=attributes)[
        "TopicArn"
    ]


def test_no_topics_means_no_findings(aws):
    for control_id in (
        "sns.topic.kms",
        "sns.topic.no-public-policy",
        "sns.subscription.https-only",
    ):
        assert results(aws, control_id) == {}


# -- sns.topic.kms --------------------------------------------------------------


def test_kms_encrypted_topic_passes(aws):
    make_topic(aws, KmsMasterKeyId="alias/aws/sns")
    result = results(aws, "sns.topic.kms")[TOPIC_ARN]
    assert result.status == Status.PASS
    assert result.reason == "encrypted with KMS key alias/aws/sns"


def test_unencrypted_topic_fails(aws):
    make_topic(aws)
    result = results(aws, "sns.topic.kms")[TOPIC_ARN]
    assert result.status == Status.FAIL
    assert "no KmsMasterKeyId" in result.reason


def test_topic_attributes_denied_is_error(aws):
    make_topic(aws, KmsMasterKeyId="alias/aws/sns")
    deny(aws, "sns", "GetTopicAttributes")
    assert results(aws, "sns.topic.kms")[TOPIC_ARN].status == Status.ERROR


# -- sns.topic.no-public-policy -------------------------------------------------


def set_policy(aws, topic_arn: str, *statements: dict) -> None:
    aws.client("sns").set_topic_attributes(
        TopicArn=topic_arn,
        AttributeName="Policy",
        AttributeValue=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )


def publish_statement(condition: dict | None = None) -> dict:
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": ["SNS:Publish", "SNS:Subscribe"],
        "Resource": TOPIC_ARN,
    }
    if condition:
        statement["Condition"] = condition
    return statement


def test_default_topic_policy_passes(aws):
    # SNS's default policy allows AWS "*" only with AWS:SourceOwner = account.
    make_topic(aws)
    result = results(aws, "sns.topic.no-public-policy")[TOPIC_ARN]
    assert result.status == Status.PASS


def test_policy_scoped_to_an_organization_passes(aws):
    arn = make_topic(aws)
    set_policy(
        aws,
        arn,
        publish_statement({"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}),
    )
    assert results(aws, "sns.topic.no-public-policy")[arn].status == Status.PASS


def test_public_topic_policy_fails(aws):
    arn = make_topic(aws)
    set_policy(aws, arn, publish_statement())
    result = results(aws, "sns.topic.no-public-policy")[arn]
    assert result.status == Status.FAIL
    assert result.reason == (
        "topic policy statement 1 allows Principal * on SNS:Publish, "
        "SNS:Subscribe without a condition"
    )


def test_negated_condition_is_still_public(aws):
    arn = make_topic(aws)
    condition = {"StringNotEquals": {"aws:SourceAccount": "111122223333"}}
    set_policy(aws, arn, publish_statement(condition))
    assert results(aws, "sns.topic.no-public-policy")[arn].status == Status.FAIL


def test_topic_policy_denied_is_error(aws):
    arn = make_topic(aws)
    set_policy(aws, arn, publish_statement())
    deny(aws, "sns", "GetTopicAttributes")
    assert results(aws, "sns.topic.no-public-policy")[arn].status == Status.ERROR


# -- sns.subscription.https-only ------------------------------------------------


def subscribe(aws, topic_arn: str, protocol: str, endpoint: str) -> str:
    return aws.client("sns").subscribe(
        TopicArn=topic_arn, Protocol=protocol, Endpoint=endpoint
    )["SubscriptionArn"]


def test_https_and_other_protocols_pass(aws):
    arn = make_topic(aws)
    https = subscribe(aws, arn, "https", "https://hooks.example.com/sns")
    email = subscribe(aws, arn, "email", "ops@example.com")
    found = results(aws, "sns.subscription.https-only")
    assert found[https].status == Status.PASS
    assert found[email].status == Status.PASS
    assert found[email].reason == "subscription protocol is email, not http"


def test_plain_http_subscription_fails_without_leaking_the_url(aws):
    arn = make_topic(aws)
    http = subscribe(
        aws, arn, "http", "http://bot:s3cret@hooks.example.com/T01/B02/XyZ?token=abc"
    )
    result = results(aws, "sns.subscription.https-only")[http]
    assert result.status == Status.FAIL
    assert result.reason == (
        "subscription delivers over plain HTTP to http://hooks.example.com"
    )


def test_pending_http_subscription_fails(aws):
    make_topic(aws)
    respond(
        aws,
        "ListSubscriptionsByTopic",
        {
            "Subscriptions": [
                {
                    "SubscriptionArn": "PendingConfirmation",
                    "Owner": ACCOUNT,
                    "Protocol": "http",
                    "Endpoint": "http://legacy.example.com:8080/notify",
                    "TopicArn": TOPIC_ARN,
                }
            ]
        },
    )
    (result,) = results(aws, "sns.subscription.https-only").values()
    assert result.status == Status.FAIL
    assert result.reason == (
        "subscription delivers over plain HTTP to http://legacy.example.com:8080 "
        "(pending confirmation)"
    )
