"""GuardDuty controls on detectors built in moto.

moto implements detectors but not ``list_findings``/``get_findings``: the
findings are answered in AWS's shape by a botocore ``before-call`` handler,
and moto's own answer (not implemented) is checked to give ERROR, not PASS.
"""

import json
from datetime import UTC, datetime

from botocore.awsrequest import AWSResponse

from findings.controls.base import Status
from findings.testing import ACCOUNT_ID, collect, deny, evaluate

ENABLED = "guardduty.enabled-all-regions"
HIGH_FINDINGS = "guardduty.no-active-high-findings"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def answer(session, operation, respond):
    def handler(params, **kwargs):
        args = json.loads(params.get("body") or b"{}")
        return AWSResponse("https://stub.invalid", 200, {}, None), respond(args)

    session.events.register(f"before-call.guardduty.{operation}", handler)


def aws_finding(finding_id, severity, finding_type, title):
    """A finding as GuardDuty's get_findings returns it (abridged)."""
    return {
        "AccountId": ACCOUNT_ID,
        "Arn": (
            f"arn:aws:guardduty:us-east-1:{ACCOUNT_ID}:detector/d/finding/{finding_id}"
        ),
        "CreatedAt": "2026-03-01T10:00:00.000Z",
        "Id": finding_id,
        "Partition": "aws",
        "Region": "us-east-1",
        "Resource": {"ResourceType": "Instance"},
        "SchemaVersion": "2.0",
        "Service": {"Archived": False, "Count": 12},
        "Severity": severity,
        "Title": title,
        "Type": finding_type,
        "UpdatedAt": "2026-03-02T11:00:00.000Z",
    }


def findings(session, *found):
    answer(session, "ListFindings", lambda a: {"FindingIds": [f["Id"] for f in found]})
    answer(session, "GetFindings", lambda a: {"Findings": list(found)})


def check(control_id, session, region="us-east-1"):
    records = collect("guardduty", region, session=session, now=NOW)
    return evaluate(control_id, records, regions=(region,), now=NOW)[region]


# -- guardduty.enabled-all-regions ---------------------------------------------------


def test_enabled_detector_passes(aws):
    detector_id = aws.client("guardduty").create_detector(Enable=True)["DetectorId"]
    findings(aws)

    result = check(ENABLED, aws)

    assert result.status == Status.PASS
    assert result.reason == f"GuardDuty detector {detector_id} is enabled in us-east-1"


def test_region_without_detector_fails(aws):
    aws.client("guardduty").create_detector(Enable=True)  # us-east-1 only

    result = check(ENABLED, aws, region="eu-west-1")

    assert result.status == Status.FAIL
    assert result.reason == "GuardDuty is not enabled in eu-west-1 (no detector)"


def test_suspended_detector_fails(aws):
    aws.client("guardduty").create_detector(Enable=False)
    findings(aws)

    result = check(ENABLED, aws)

    assert result.status == Status.FAIL
    assert "is suspended (Status DISABLED)" in result.reason


def test_unreadable_detector_is_an_error(aws):
    aws.client("guardduty").create_detector(Enable=True)
    deny(aws, "guardduty", "GetDetector")
    findings(aws)

    result = check(ENABLED, aws)

    assert result.status == Status.ERROR
    assert "AccessDenied" in result.reason


# -- guardduty.no-active-high-findings ------------------------------------------------


def test_no_open_high_findings_passes(aws):
    aws.client("guardduty").create_detector(Enable=True)
    findings(aws)

    result = check(HIGH_FINDINGS, aws)

    assert result.status == Status.PASS
    assert "no unarchived finding of severity 7 or more" in result.reason


def test_open_high_findings_fail_and_are_named(aws):
    aws.client("guardduty").create_detector(Enable=True)
    findings(
        aws,
        aws_finding(
            "f1",
            8.0,
            "UnauthorizedAccess:EC2/SSHBruteForce",
            "SSH brute force attacks against i-0abc.",
        ),
        aws_finding(
            "f2",
            9.2,
            "CryptoCurrency:EC2/BitcoinTool.B!DNS",
            "Bitcoin-related domain name queried by EC2 instance i-0def.",
        ),
    )

    result = check(HIGH_FINDINGS, aws)

    assert result.status == Status.FAIL
    assert result.reason.startswith(
        "2 unarchived high-severity GuardDuty finding(s) in us-east-1, e.g. "
        "CryptoCurrency:EC2/BitcoinTool.B!DNS (severity 9.2): Bitcoin-related"
    )
    assert "UnauthorizedAccess:EC2/SSHBruteForce (severity 8)" in result.reason


def test_findings_without_detector_are_not_applicable(aws):
    result = check(HIGH_FINDINGS, aws)

    assert result.status == Status.NOT_APPLICABLE
    assert "not enabled in us-east-1" in result.reason


def test_findings_moto_cannot_list_are_an_error(aws):
    # moto answers list_findings "not yet implemented": never a PASS.
    aws.client("guardduty").create_detector(Enable=True)

    result = check(HIGH_FINDINGS, aws)

    assert result.status == Status.ERROR
    assert "ListFindings" in result.reason


def test_denied_findings_are_an_error(aws):
    aws.client("guardduty").create_detector(Enable=True)
    deny(aws, "guardduty", "ListFindings", "AccessDeniedException")

    result = check(HIGH_FINDINGS, aws)

    assert result.status == Status.ERROR
    assert "AccessDeniedException" in result.reason
