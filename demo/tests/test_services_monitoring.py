"""The monitoring demo seed, scanned by the real collectors through a moto server.

The well-run "security" profile and the careless "dev" profile are seeded one
after the other into moto's default account (the server is reset between
them: both seed the same per-region detectors and hubs). Before each, a
trail is created the way the CloudTrail seed does for that profile, since the
CIS alarms hang off its log group. The security profile must pass and dev
must fail.
"""

import os

import pytest

from accounts.aws import forget_credentials, new_session
from demo.seed import _Account
from demo.services import monitoring
from demo.simulator import reset_moto_server, start_moto_server, use_endpoint
from findings.controls.base import Status
from findings.controls.cloudwatch import CIS_ALARMS
from findings.testing import collect, evaluate

pytestmark = pytest.mark.e2e

REGIONS = ("us-east-1", "eu-west-1")
ACCOUNT_ID = "123456789012"  # moto's default account
SERVICES = (
    "cloudtrail",
    "cloudwatch",
    "cloudwatch-cis",
    "guardduty",
    "securityhub",
    "events",
)


def base_trail(account: _Account, profile: str) -> None:
    """The trail the CloudTrail seed gives the profile (secure: with CW Logs)."""
    region = account.regions[0]
    bucket = f"{profile}-cloudtrail-{account.id}"
    account.client("s3", region).create_bucket(Bucket=bucket)
    trail = {"Name": f"{profile}-trail", "S3BucketName": bucket}
    if profile == "security":
        group = f"/aws/cloudtrail/{profile}"
        account.client("logs", region).create_log_group(logGroupName=group)
        trail |= {
            "IsMultiRegionTrail": True,
            "CloudWatchLogsLogGroupArn": (
                f"arn:aws:logs:{region}:{account.id}:log-group:{group}:*"
            ),
            "CloudWatchLogsRoleArn": f"arn:aws:iam::{account.id}:role/trail-to-logs",
        }
    cloudtrail = account.client("cloudtrail", region)
    cloudtrail.create_trail(**trail)
    cloudtrail.start_logging(Name=trail["Name"])


def scan_profile(url: str, profile: str) -> dict:
    reset_moto_server(url)
    forget_credentials()
    account = _Account.management(url, REGIONS, ACCOUNT_ID)
    base_trail(account, profile)
    for region in REGIONS:
        monitoring.seed(account, profile, region)
    session = new_session(region_name=REGIONS[0])
    records = []
    for service in SERVICES:
        for region in REGIONS:
            records += collect(service, region, session=session)
            if service == "cloudwatch-cis":
                break  # global: once per account
    return {"records": records}


@pytest.fixture(scope="module")
def scans():
    saved = dict(os.environ)
    server, url = start_moto_server()
    try:
        with use_endpoint(url):
            yield {
                profile: scan_profile(url, profile) for profile in ("security", "dev")
            }
    finally:
        reset_moto_server(url)
        server.stop()
        forget_credentials()
        # start_moto_server sets moto's switches too: leave nothing behind.
        os.environ.clear()
        os.environ.update(saved)


def results(scans, profile, control_id):
    return evaluate(control_id, scans[profile]["records"], regions=REGIONS)


def statuses(scans, profile, control_id):
    return {r.status for r in results(scans, profile, control_id).values()}


@pytest.mark.parametrize(
    "control_id",
    [spec.id for spec in CIS_ALARMS]
    + [
        "logs.log-group.retention-1y",
        "cloudwatch.alarm.has-actions",
        "guardduty.enabled-all-regions",
        "securityhub.enabled",
        "events.security-findings-routed",
    ],
)
def test_security_profile_passes(scans, control_id):
    found = results(scans, "security", control_id)

    assert found, f"{control_id} produced no finding"
    assert {r.status for r in found.values()} == {Status.PASS}, found


def test_security_profile_is_covered_in_every_region(scans):
    assert set(results(scans, "security", "guardduty.enabled-all-regions")) == set(
        REGIONS
    )


@pytest.mark.parametrize(
    "control_id",
    [
        "cloudwatch.cis-alarm.root-usage",
        "logs.log-group.retention-1y",
        "cloudwatch.alarm.has-actions",
        "guardduty.enabled-all-regions",
        "securityhub.enabled",
        "events.security-findings-routed",
    ],
)
def test_dev_profile_fails(scans, control_id):
    assert Status.FAIL in statuses(scans, "dev", control_id)


def test_dev_detector_is_suspended_and_routing_disabled(scans):
    detectors = results(scans, "dev", "guardduty.enabled-all-regions")
    assert "suspended" in detectors["us-east-1"].reason
    assert "no detector" in detectors["eu-west-1"].reason
    (routing,) = [
        r
        for bus, r in results(scans, "dev", "events.security-findings-routed").items()
        if ":us-east-1:" in bus
    ]
    assert "is disabled" in routing.reason


def test_findings_and_standards_the_simulator_cannot_answer_are_errors(scans):
    # Never a PASS for what moto does not implement.
    assert statuses(scans, "security", "guardduty.no-active-high-findings") == {
        Status.ERROR
    }
    assert statuses(scans, "security", "securityhub.standards-enabled") == {
        Status.ERROR
    }
