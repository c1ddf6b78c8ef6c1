"""EventBridge routing of security findings, on rules built in moto."""

import json

import pytest

from findings.controls.base import Status
from findings.testing import ACCOUNT_ID, collect, deny, evaluate

ROUTED = "events.security-findings-routed"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:oncall"
BUS = f"arn:aws:events:{{region}}:{ACCOUNT_ID}:event-bus/default"


def rule(session, name, pattern, *, targets=(TOPIC,), state="ENABLED"):
    events = session.client("events")
    events.put_rule(Name=name, EventPattern=json.dumps(pattern), State=state)
    if targets:
        events.put_targets(
            Rule=name,
            Targets=[{"Id": f"t{i}", "Arn": arn} for i, arn in enumerate(targets)],
        )


def check(session, region="us-east-1"):
    records = collect("events", region, session=session)
    return evaluate(ROUTED, records, regions=(region,))[BUS.format(region=region)]


@pytest.mark.parametrize(
    "pattern",
    [
        {"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"]},
        {
            "source": ["aws.securityhub"],
            "detail-type": ["Security Hub Findings - Imported"],
        },
        {"source": [{"prefix": "aws.security"}]},
    ],
)
def test_rule_sending_findings_to_a_target_passes(aws, pattern):
    rule(aws, "findings-to-oncall", pattern)

    result = check(aws)

    assert result.status == Status.PASS
    assert "rule findings-to-oncall sends" in result.reason
    assert TOPIC in result.reason


def test_region_without_rules_fails(aws):
    rule(aws, "findings-to-oncall", {"source": ["aws.guardduty"]})  # us-east-1 only

    result = check(aws, region="eu-west-1")

    assert result.status == Status.FAIL
    assert result.reason == (
        "no enabled rule on the default event bus in eu-west-1 sends GuardDuty or "
        "Security Hub findings anywhere"
    )


def test_disabled_rule_fails(aws):
    rule(aws, "findings-to-oncall", {"source": ["aws.guardduty"]}, state="DISABLED")

    result = check(aws)

    assert result.status == Status.FAIL
    assert "rule findings-to-oncall matches aws.guardduty but is disabled" in (
        result.reason
    )


def test_rule_without_target_fails(aws):
    rule(aws, "findings", {"source": ["aws.securityhub"]}, targets=())

    result = check(aws)

    assert result.status == Status.FAIL
    assert "rule findings matches aws.securityhub but has no target" in result.reason


@pytest.mark.parametrize(
    "pattern",
    [
        {"source": ["aws.ec2"]},
        {
            "source": ["aws.securityhub"],
            "detail-type": ["Security Hub Insight Results"],
        },
        {"detail-type": ["GuardDuty Finding"], "source": [{"anything-but": "aws.ec2"}]},
    ],
)
def test_rules_that_route_no_findings_fail(aws, pattern):
    rule(aws, "other", pattern)

    assert check(aws).status == Status.FAIL


def test_unreadable_targets_are_an_error(aws):
    rule(aws, "findings-to-oncall", {"source": ["aws.guardduty"]})
    deny(aws, "eventbridge", "ListTargetsByRule")

    result = check(aws)

    assert result.status == Status.ERROR
    assert "targets of rule findings-to-oncall could not be read" in result.reason
