"""Systems Manager controls (EC2 guest OS), on what the real collectors read.

The EC2 instances are built in moto; what Systems Manager knows about them
(instance information, patch states) is not simulated and is answered by a
botocore ``before-call`` handler with responses validated against the
operation's output shape.
"""

import json
from datetime import UTC, datetime

import pytest
from botocore.awsrequest import AWSResponse
from botocore.validate import validate_parameters
from moto import mock_aws

from accounts.aws import forget_credentials, new_session
from findings.controls.base import Status
from findings.testing import collect, deny, evaluate

NOW = datetime.now(UTC)
REGION = "us-east-1"


def answer(session, service: str, operation: str, respond) -> None:
    """Answer ``service.operation`` with ``respond(request)`` in AWS's shape."""

    def handler(model, params, **kwargs):
        request = dict(params.get("query_string") or {})
        if params.get("body"):
            request.update(json.loads(params["body"]))
        parsed = respond(request)
        validate_parameters(parsed, model.output_shape)
        http = AWSResponse("https://stub.invalid", 200, {}, None)
        return http, {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200}}

    session.events.register(f"before-call.{service}.{operation}", handler)


def results(control_id: str, records, **kwargs) -> dict:
    return evaluate(control_id, records, now=kwargs.pop("now", NOW), **kwargs)


def only(control_id: str, records, **kwargs):
    (result,) = results(control_id, records, **kwargs).values()
    return result


# -- Systems Manager ----------------------------------------------------------


def managed(aws, nodes: dict[str, str], states: dict[str, dict] | None = None):
    """SSM knows ``nodes`` (instance id -> ping status) and their patch states."""
    answer(
        aws,
        "ssm",
        "DescribeInstanceInformation",
        lambda request: {
            "InstanceInformationList": [
                {
                    "InstanceId": instance_id,
                    "PingStatus": ping,
                    "LastPingDateTime": NOW,
                    "AgentVersion": "3.3.40.0",
                    "PlatformType": "Linux",
                    "ResourceType": "EC2Instance",
                }
                for instance_id, ping in nodes.items()
            ]
        },
    )
    states = states or {}
    answer(
        aws,
        "ssm",
        "DescribeInstancePatchStates",
        lambda request: {
            "InstancePatchStates": [
                {
                    "InstanceId": instance_id,
                    "PatchGroup": "web",
                    "BaselineId": "pb-0123456789abcdef0",
                    "OperationStartTime": NOW,
                    "OperationEndTime": NOW,
                    "Operation": "Scan",
                    **counts,
                }
                for instance_id, counts in states.items()
                if instance_id in request["InstanceIds"]
            ]
        },
    )


@pytest.fixture(scope="module")
def fleet():
    """EC2 instances in moto (one stopped) and what Systems Manager reports
    about them, collected once for the module."""
    with mock_aws():
        forget_credentials()
        session = new_session(region_name=REGION)
        ec2 = session.client("ec2")
        launched = ec2.run_instances(ImageId="ami-12345678", MinCount=4, MaxCount=4)
        instances = launched["Instances"]
        ids = dict(
            zip(
                ("online", "lost", "unknown", "stopped"),
                (i["InstanceId"] for i in instances),
                strict=True,
            )
        )
        ec2.stop_instances(InstanceIds=[ids["stopped"]])
        managed(session, {ids["online"]: "Online", ids["lost"]: "ConnectionLost"})
        ec2_records = collect("ec2", session=session)
        ssm_records = collect("ssm", session=session)
    forget_credentials()
    yield ids, ec2_records, ssm_records


def test_instances_with_online_agent_pass_and_others_fail(fleet):
    ids, ec2_records, ssm_records = fleet

    outcome = results("ec2.instance.ssm-managed", ec2_records + ssm_records)

    assert outcome[ids["online"]].status == Status.PASS
    assert outcome[ids["online"]].reason == "SSM Agent 3.3.40.0 is Online"
    assert outcome[ids["lost"]].status == Status.FAIL
    assert "ConnectionLost" in outcome[ids["lost"]].reason
    assert outcome[ids["unknown"]].status == Status.FAIL
    assert outcome[ids["unknown"]].reason.startswith(
        "not registered with Systems Manager"
    )
    assert outcome[ids["stopped"]].status == Status.NOT_APPLICABLE


def test_uncollected_ssm_is_error(fleet):
    ids, ec2_records, _ = fleet
    outcome = results(
        "ec2.instance.ssm-managed",
        ec2_records,
        uncollected={("AWS::SSM::PatchCompliance", REGION): "Access denied"},
    )
    assert outcome[ids["online"]].status == Status.ERROR


def patch_results(aws, states: dict[str, dict], nodes=None) -> dict:
    managed(aws, nodes or dict.fromkeys(states, "Online"), states)
    return results("ec2.instance.patch-compliant", collect("ssm", session=aws))


def test_patch_compliance(aws):
    outcome = patch_results(
        aws,
        {
            "i-0clean": {"MissingCount": 0, "FailedCount": 0, "InstalledCount": 90},
            "i-0behind": {"MissingCount": 4, "FailedCount": 1, "InstalledCount": 80},
        },
        nodes={"i-0clean": "Online", "i-0behind": "Online", "mi-0never": "Online"},
    )

    assert outcome["i-0clean"].status == Status.PASS
    assert outcome["i-0behind"].status == Status.FAIL
    assert outcome["i-0behind"].reason == (
        "patches 4 missing and 1 failed to install against baseline "
        "pb-0123456789abcdef0"
    )
    assert outcome["mi-0never"].status == Status.FAIL
    assert outcome["mi-0never"].reason.startswith("no patch state")


def test_unreadable_patch_state_is_error(aws):
    deny(aws, "ssm", "DescribeInstancePatchStates", "AccessDeniedException")
    outcome = patch_results(aws, {"i-0clean": {"MissingCount": 0, "FailedCount": 0}})
    assert outcome["i-0clean"].status == Status.ERROR
