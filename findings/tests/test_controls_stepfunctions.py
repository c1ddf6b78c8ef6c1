"""Step Functions control, evaluated on what the real collector reads from moto."""

import json

import pytest

from findings.controls.base import Status
from findings.testing import collect, deny, evaluate

CONTROL = "stepfunctions.state-machine.logging"
ROLE = "arn:aws:iam::123456789012:role/orders-workflow"
LOG_GROUP = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/states/orders:*"
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


def make_state_machine(aws, logging: dict | None = None) -> str:
    kwargs = {"loggingConfiguration": logging} if logging else {}
    return aws.client("stepfunctions").create_state_machine(
        name="orders", definition=DEFINITION, roleArn=ROLE, **kwargs
    )["stateMachineArn"]


def check(aws, arn: str):
    return evaluate(CONTROL, collect("stepfunctions", session=aws))[arn]


def destination(arn: str = LOG_GROUP) -> list[dict]:
    return [{"cloudWatchLogsLogGroup": {"logGroupArn": arn}}]


def test_no_state_machines_means_no_findings(aws):
    assert evaluate(CONTROL, collect("stepfunctions", session=aws)) == {}


@pytest.mark.parametrize("level", ["ALL", "ERROR", "FATAL"])
def test_logging_to_a_log_group_passes(aws, level):
    arn = make_state_machine(aws, {"level": level, "destinations": destination()})
    result = check(aws, arn)
    assert result.status == Status.PASS
    assert result.reason == f"logs {level} events to {LOG_GROUP}"


def test_default_logging_off_fails(aws):
    arn = make_state_machine(aws)
    result = check(aws, arn)
    assert result.status == Status.FAIL
    assert result.reason == "execution logging level is OFF"


def test_level_without_destination_fails(aws):
    arn = make_state_machine(aws, {"level": "ERROR", "destinations": []})
    result = check(aws, arn)
    assert result.status == Status.FAIL
    assert "no log group" in result.reason


def test_describe_denied_is_error(aws):
    arn = make_state_machine(aws, {"level": "ALL", "destinations": destination()})
    deny(aws, "sfn", "DescribeStateMachine")
    assert check(aws, arn).status == Status.ERROR
