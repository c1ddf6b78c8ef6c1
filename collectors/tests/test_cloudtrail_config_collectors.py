"""The CloudTrail and AWS Config collectors against moto.

Where moto leaves out what AWS returns (CloudWatch Logs delivery times, the
recorder's lastStatus cycle, more than one page of list_tags), a botocore
``before-call`` handler answers for that one operation in AWS's shape.
"""

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from collectors.base import ERRORS_KEY
from findings.testing import ACCOUNT_ID, collect, deny

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
BUCKET = "audit-logs"


def answer(session: boto3.Session, service: str, operation: str, respond) -> None:
    """Answer ``service.operation`` with ``respond(request_body)`` in place of moto."""

    def handler(params, **kwargs):
        body = json.loads(params.get("body") or b"{}")
        return AWSResponse("https://stub.invalid", 200, {}, None), respond(body)

    session.events.register(f"before-call.{service}.{operation}", handler)


def make_trail(session, name, region="us-east-1", *, start=True, **kwargs):
    session.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
    client = session.client("cloudtrail", region_name=region)
    arn = client.create_trail(Name=name, S3BucketName=BUCKET, **kwargs)["TrailARN"]
    if start:
        client.start_logging(Name=name)
    return arn


def by_type(records, resource_type):
    return [r for r in records if r.resource_type == resource_type]


# -- CloudTrail ----------------------------------------------------------------


def test_trail_is_stored_once_by_its_home_region(aws):
    arn = make_trail(aws, "org-trail", IsMultiRegionTrail=True)

    home = collect("cloudtrail", "us-east-1", session=aws, now=NOW)
    elsewhere = collect("cloudtrail", "eu-west-1", session=aws, now=NOW)

    (trail,) = by_type(home, "AWS::CloudTrail::Trail")
    assert (trail.resource_id, trail.arn, trail.name) == (arn, arn, "org-trail")
    assert trail.region == "us-east-1"
    # The shadow in eu-west-1 is not a second trail ...
    assert by_type(elsewhere, "AWS::CloudTrail::Trail") == []
    # ... but it does cover eu-west-1.
    (coverage,) = by_type(elsewhere, "AWS::CloudTrail::RegionCoverage")
    assert coverage.resource_id == "eu-west-1"
    assert coverage.config["Trails"] == [
        {
            "TrailARN": arn,
            "Name": "org-trail",
            "HomeRegion": "us-east-1",
            "IsMultiRegionTrail": True,
            "IsOrganizationTrail": False,
        }
    ]


def test_region_coverage_lists_local_and_multi_region_trails(aws):
    multi = make_trail(aws, "org-trail", IsMultiRegionTrail=True)
    local = make_trail(aws, "eu-only", region="eu-west-1")

    records = collect("cloudtrail", "eu-west-1", session=aws, now=NOW)

    (coverage,) = by_type(records, "AWS::CloudTrail::RegionCoverage")
    assert [t["TrailARN"] for t in coverage.config["Trails"]] == sorted([multi, local])
    assert [r.resource_id for r in by_type(records, "AWS::CloudTrail::Trail")] == [
        local
    ]


def test_region_without_trails_still_has_a_coverage_record(aws):
    records = collect("cloudtrail", "ap-southeast-2", session=aws, now=NOW)

    assert [(r.resource_type, r.resource_id, r.config) for r in records] == [
        ("AWS::CloudTrail::RegionCoverage", "ap-southeast-2", {"Trails": []})
    ]


def test_trail_config_has_settings_status_selectors_and_tags(aws):
    make_trail(
        aws,
        "org-trail",
        IsMultiRegionTrail=True,
        EnableLogFileValidation=True,
        TagsList=[{"Key": "team", "Value": "security"}],
    )
    aws.client("cloudtrail").put_event_selectors(
        TrailName="org-trail",
        EventSelectors=[
            {"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}
        ],
    )

    (trail,) = by_type(
        collect("cloudtrail", session=aws, now=NOW), "AWS::CloudTrail::Trail"
    )

    assert trail.config["S3BucketName"] == BUCKET
    assert trail.config["LogFileValidationEnabled"] is True
    assert trail.config["Status"]["IsLogging"] is True
    assert trail.config["EventSelectors"]["EventSelectors"][0]["ReadWriteType"] == (
        "WriteOnly"
    )
    assert trail.config["EventSelectors"]["AdvancedEventSelectors"] == []
    assert trail.tags == {"team": "security"}
    assert ERRORS_KEY not in trail.config


def aws_trail_status(delivered_at, delivery_time):
    """get_trail_status as AWS answers it for a healthy, busy trail."""
    return {
        "IsLogging": True,
        "StartLoggingTime": datetime(2025, 1, 1, tzinfo=UTC),
        "LatestDeliveryTime": delivered_at,
        "LatestDeliveryAttemptTime": delivered_at.isoformat(),
        "LatestDeliveryAttemptSucceeded": delivered_at.isoformat(),
        "LatestDigestDeliveryTime": delivered_at,
        "LatestCloudWatchLogsDeliveryTime": delivery_time,
        "TimeLoggingStarted": "2025-01-01T00:00:00Z",
    }


def test_trail_config_is_unchanged_between_scans_of_a_healthy_trail(aws):
    make_trail(aws, "org-trail", IsMultiRegionTrail=True)
    scan_times = [NOW, NOW + timedelta(hours=6)]
    answer(
        aws,
        "cloudtrail",
        "GetTrailStatus",
        # Every scan sees fresh delivery times, as on a busy account.
        lambda body: aws_trail_status(
            scan_times[0] - timedelta(minutes=3), scan_times[0] - timedelta(minutes=1)
        ),
    )

    first = collect("cloudtrail", session=aws, now=scan_times[0])
    scan_times.pop(0)
    second = collect("cloudtrail", session=aws, now=scan_times[0])

    assert first == second
    status = by_type(first, "AWS::CloudTrail::Trail")[0].config["Status"]
    assert status["CloudWatchLogsDeliveredWithin24h"] is True
    assert "LatestDeliveryTime" not in status
    assert "LatestCloudWatchLogsDeliveryTime" not in status


@pytest.mark.parametrize(
    ("last_delivery", "delivered"),
    [(timedelta(hours=2), True), (timedelta(hours=30), False), (None, False)],
)
def test_cloudwatch_delivery_is_judged_against_the_scan_clock(
    aws, last_delivery, delivered
):
    make_trail(aws, "org-trail", IsMultiRegionTrail=True)
    delivery_time = NOW - last_delivery if last_delivery else None
    status = aws_trail_status(NOW - timedelta(minutes=5), delivery_time)
    if delivery_time is None:
        del status["LatestCloudWatchLogsDeliveryTime"]
    answer(aws, "cloudtrail", "GetTrailStatus", lambda body: status)

    (trail,) = by_type(
        collect("cloudtrail", session=aws, now=NOW), "AWS::CloudTrail::Trail"
    )

    assert trail.config["Status"]["CloudWatchLogsDeliveredWithin24h"] is delivered


def test_tags_are_read_across_every_page(aws):
    arn = make_trail(aws, "org-trail", IsMultiRegionTrail=True)

    def paged(body):
        if body.get("NextToken") != "page-2":
            tags = [{"Key": "team", "Value": "security"}]
            return {
                "ResourceTagList": [{"ResourceId": arn, "TagsList": tags}],
                "NextToken": "page-2",
            }
        tags = [{"Key": "env", "Value": "prod"}]
        return {"ResourceTagList": [{"ResourceId": arn, "TagsList": tags}]}

    answer(aws, "cloudtrail", "ListTags", paged)

    (trail,) = by_type(
        collect("cloudtrail", session=aws, now=NOW), "AWS::CloudTrail::Trail"
    )

    assert trail.tags == {"team": "security", "env": "prod"}


def test_denied_describe_trails_fails_the_unit(aws):
    make_trail(aws, "org-trail", IsMultiRegionTrail=True)
    deny(aws, "cloudtrail", "DescribeTrails")

    with pytest.raises(ClientError) as excinfo:
        collect("cloudtrail", session=aws, now=NOW)

    assert excinfo.value.response["Error"]["Code"] == "AccessDenied"


@pytest.mark.parametrize(
    ("operation", "key"),
    [("GetTrailStatus", "Status"), ("GetEventSelectors", "EventSelectors")],
)
def test_denied_sub_call_is_recorded_not_dropped(aws, operation, key):
    make_trail(aws, "org-trail", IsMultiRegionTrail=True)
    deny(aws, "cloudtrail", operation)

    (trail,) = by_type(
        collect("cloudtrail", session=aws, now=NOW), "AWS::CloudTrail::Trail"
    )

    assert trail.config[key] is None
    assert "AccessDenied" in trail.config[ERRORS_KEY][key]


def test_trail_deleted_during_the_scan_is_skipped(aws):
    make_trail(aws, "org-trail", IsMultiRegionTrail=True)
    deny(aws, "cloudtrail", "GetTrailStatus", code="TrailNotFoundException")

    records = collect("cloudtrail", session=aws, now=NOW)

    assert by_type(records, "AWS::CloudTrail::Trail") == []
    assert by_type(records, "AWS::CloudTrail::RegionCoverage")[0].config == {
        "Trails": []
    }


# -- AWS Config ----------------------------------------------------------------


def start_recorder(session, region="us-east-1", *, start=True, **group):
    client = session.client("config", region_name=region)
    client.put_configuration_recorder(
        ConfigurationRecorder={
            "name": "default",
            "roleARN": f"arn:aws:iam::{ACCOUNT_ID}:role/config",
            "recordingGroup": group
            or {"allSupported": True, "includeGlobalResourceTypes": True},
        }
    )
    if start:
        session.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        client.put_delivery_channel(
            DeliveryChannel={"name": "default", "s3BucketName": BUCKET}
        )
        client.start_configuration_recorder(ConfigurationRecorderName="default")


def test_region_without_recorder_still_yields_a_record(aws):
    (record,) = collect("config", "eu-west-1", session=aws, now=NOW)

    assert record.resource_type == "AWS::Config::ConfigurationRecorder"
    assert record.resource_id == "eu-west-1"
    assert record.config["ConfigurationRecorders"] == []
    assert record.config["ConfigurationRecordersStatus"] == []


def test_recorder_record_has_recording_group_and_status(aws):
    start_recorder(aws)

    (record,) = collect("config", session=aws, now=NOW)

    (recorder,) = record.config["ConfigurationRecorders"]
    assert recorder["name"] == "default"
    assert recorder["recordingGroup"]["allSupported"] is True
    assert recorder["recordingGroup"]["includeGlobalResourceTypes"] is True
    (status,) = record.config["ConfigurationRecordersStatus"]
    assert status["recording"] is True
    assert status["lastStatusFailed"] is False
    assert "lastStatus" not in status


def test_recorder_record_is_unchanged_while_batches_are_recorded(aws):
    start_recorder(aws)
    cycle = iter(["Pending", "Success"])

    def status(body):
        return {
            "ConfigurationRecordersStatus": [
                {
                    "name": "default",
                    "recording": True,
                    "lastStartTime": datetime(2025, 1, 1, tzinfo=UTC),
                    "lastStatus": next(cycle),
                    "lastStatusChangeTime": datetime.now(UTC),
                }
            ]
        }

    answer(aws, "config", "DescribeConfigurationRecorderStatus", status)

    assert collect("config", session=aws, now=NOW) == collect(
        "config", session=aws, now=NOW
    )


def test_failed_last_recording_is_kept(aws):
    start_recorder(aws)
    answer(
        aws,
        "config",
        "DescribeConfigurationRecorderStatus",
        lambda body: {
            "ConfigurationRecordersStatus": [
                {
                    "name": "default",
                    "recording": True,
                    "lastStatus": "Failure",
                    "lastErrorCode": "AccessDenied",
                }
            ]
        },
    )

    (record,) = collect("config", session=aws, now=NOW)

    (status,) = record.config["ConfigurationRecordersStatus"]
    assert status["lastStatusFailed"] is True
    assert status["lastErrorCode"] == "AccessDenied"


def test_denied_describe_recorders_fails_the_unit(aws):
    deny(aws, "config", "DescribeConfigurationRecorders")

    with pytest.raises(ClientError):
        collect("config", session=aws, now=NOW)


def test_denied_recorder_status_is_recorded(aws):
    start_recorder(aws)
    deny(aws, "config", "DescribeConfigurationRecorderStatus")

    (record,) = collect("config", session=aws, now=NOW)

    assert record.config["ConfigurationRecordersStatus"] is None
    assert "AccessDenied" in record.config[ERRORS_KEY]["ConfigurationRecordersStatus"]
