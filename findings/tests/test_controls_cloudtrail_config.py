"""CloudTrail and AWS Config controls, on configurations built in moto.

Trails and recorders are real moto resources collected by the real
collectors. Where moto answers differently from AWS (no default event
selector, no CloudWatch Logs delivery time, the recorder's lastStatus), the
operation is answered in AWS's shape by a botocore ``before-call`` handler.
The S3 side of the bucket controls is built as plain records with the keys
the S3 collector stores.
"""

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from collectors.base import ERRORS_KEY, ResourceRecord
from findings.controls.base import Status
from findings.testing import ACCOUNT_ID, collect, deny, evaluate

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
TRAIL_BUCKET = "audit-logs"
OTHER_ACCOUNT = "210987654321"
S3_WRITES = {
    "Name": "S3 writes",
    "FieldSelectors": [
        {"Field": "eventCategory", "Equals": ["Data"]},
        {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
        {"Field": "readOnly", "Equals": ["false"]},
    ],
}
MANAGEMENT = {
    "Name": "Management",
    "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}],
}


def answer(session, service, operation, respond):
    """Answer ``service.operation`` with ``respond(request_body)`` in AWS's shape."""

    def handler(params, **kwargs):
        body = json.loads(params.get("body") or b"{}")
        return AWSResponse("https://stub.invalid", 200, {}, None), respond(body)

    session.events.register(f"before-call.{service}.{operation}", handler)


def make_trail(session, name="main", region="us-east-1", *, start=True, **kwargs):
    s3 = session.client("s3", region_name="us-east-1")
    if TRAIL_BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=TRAIL_BUCKET)
    client = session.client("cloudtrail", region_name=region)
    arn = client.create_trail(Name=name, S3BucketName=TRAIL_BUCKET, **kwargs)[
        "TrailARN"
    ]
    if start:
        client.start_logging(Name=name)
    return arn


def put_selectors(session, name="main", region="us-east-1", **selectors):
    session.client("cloudtrail", region_name=region).put_event_selectors(
        TrailName=name, **selectors
    )


def scan(session, regions=("us-east-1",)):
    records = []
    for region in regions:
        records += collect("cloudtrail", region, session=session, now=NOW)
    return records


def check(control_id, records, resource_id="us-east-1", **kwargs):
    kwargs.setdefault("regions", ("us-east-1",))
    kwargs.setdefault("now", NOW)
    return evaluate(control_id, records, **kwargs)[resource_id]


def trail_id(name="main", region="us-east-1"):
    return f"arn:aws:cloudtrail:{region}:{ACCOUNT_ID}:trail/{name}"


def owned_by(record, account_id):
    """The record as a member account sees another account's organization trail."""
    arn = record.arn.replace(ACCOUNT_ID, account_id)
    config = dict(record.config, TrailARN=arn, IsOrganizationTrail=True)
    return ResourceRecord(
        record.resource_type, arn, config, arn, record.name, record.tags, record.region
    )


def bucket(name=TRAIL_BUCKET, **overrides):
    """An S3 bucket record as the S3 collector stores it: private, logged."""
    config = {
        "Logging": {
            "LoggingEnabled": {"TargetBucket": "access-logs", "TargetPrefix": "audit/"}
        },
        "PublicAccessBlock": {
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
        "PolicyStatus": {"IsPublic": False},
        "Policy": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"arn:aws:s3:::{name}/AWSLogs/*",
                }
            ],
        },
        "Acl": {
            "Owner": {"ID": "owner"},
            "Grants": [
                {
                    "Grantee": {"Type": "CanonicalUser", "ID": "owner"},
                    "Permission": "FULL_CONTROL",
                }
            ],
        },
    }
    config.update(overrides)
    return ResourceRecord(
        "AWS::S3::Bucket", name, config, f"arn:aws:s3:::{name}", name, {}, "us-east-1"
    )


def aws_status(cloudwatch_delivery=None, **extra):
    status = {
        "IsLogging": True,
        "LatestDeliveryTime": NOW - timedelta(minutes=4),
        "StartLoggingTime": datetime(2025, 1, 1, tzinfo=UTC),
        **extra,
    }
    if cloudwatch_delivery is not None:
        status["LatestCloudWatchLogsDeliveryTime"] = cloudwatch_delivery
    return status


# -- cloudtrail.multi-region-trail -------------------------------------------


def test_new_multi_region_trail_passes_in_every_region(aws):
    # moto returns no selectors for a new trail; AWS documents that such a
    # trail logs all read and write management events.
    make_trail(aws, IsMultiRegionTrail=True)
    regions = ("us-east-1", "eu-west-1")

    results = evaluate(
        "cloudtrail.multi-region-trail", scan(aws, regions), regions=regions
    )

    assert {r: res.status for r, res in results.items()} == {
        "us-east-1": Status.PASS,
        "eu-west-1": Status.PASS,
    }
    assert "CloudTrail's default" in results["eu-west-1"].reason


def test_explicit_all_management_selector_passes(aws):
    # What AWS itself returns for a new trail.
    make_trail(aws, IsMultiRegionTrail=True)
    put_selectors(
        aws,
        EventSelectors=[
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "DataResources": [],
                "ExcludeManagementEventSources": [],
            }
        ],
    )

    result = check("cloudtrail.multi-region-trail", scan(aws))

    assert result.status == Status.PASS
    assert result.reason == (
        "multi-region trail main is logging all read and write management events"
    )


def test_advanced_management_selector_passes(aws):
    make_trail(aws, IsMultiRegionTrail=True)
    put_selectors(aws, AdvancedEventSelectors=[MANAGEMENT])

    assert check("cloudtrail.multi-region-trail", scan(aws)).status == Status.PASS


def test_account_without_trails_fails(aws):
    result = check("cloudtrail.multi-region-trail", scan(aws))

    assert result.status == Status.FAIL
    assert result.reason == "no multi-region trail covers us-east-1"


def test_single_region_trail_is_not_enough(aws):
    make_trail(aws, "local")

    result = check("cloudtrail.multi-region-trail", scan(aws))

    assert result.status == Status.FAIL
    assert "single-region trails only: local" in result.reason


def test_multi_region_trail_that_is_not_logging_fails(aws):
    make_trail(aws, IsMultiRegionTrail=True, start=False)

    result = check("cloudtrail.multi-region-trail", scan(aws))

    assert result.status == Status.FAIL
    assert result.reason == "multi-region trail main is not logging"


def test_write_only_management_events_fail(aws):
    make_trail(aws, IsMultiRegionTrail=True)
    put_selectors(
        aws,
        EventSelectors=[
            {"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}
        ],
    )

    result = check("cloudtrail.multi-region-trail", scan(aws))

    assert result.status == Status.FAIL
    assert "logs only WriteOnly management events" in result.reason


def test_advanced_selector_with_read_only_filter_fails(aws):
    make_trail(aws, IsMultiRegionTrail=True)
    writes_only = {
        "Name": "writes",
        "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Management"]},
            {"Field": "readOnly", "Equals": ["false"]},
        ],
    }
    put_selectors(aws, AdvancedEventSelectors=[writes_only])

    assert check("cloudtrail.multi-region-trail", scan(aws)).status == Status.FAIL


def test_unreadable_event_selectors_give_error_not_pass(aws):
    make_trail(aws, IsMultiRegionTrail=True)
    deny(aws, "cloudtrail", "GetEventSelectors")

    result = check("cloudtrail.multi-region-trail", scan(aws))

    assert result.status == Status.ERROR
    assert "EventSelectors could not be read" in result.reason


def test_trail_whose_home_region_failed_gives_error(aws):
    make_trail(aws, IsMultiRegionTrail=True)
    regions = ("us-east-1", "eu-west-1")

    result = check(
        "cloudtrail.multi-region-trail",
        scan(aws, ["eu-west-1"]),
        "eu-west-1",
        regions=regions,
        uncollected={("AWS::CloudTrail::Trail", "us-east-1"): "AccessDenied"},
    )

    assert result.status == Status.ERROR


def test_trail_whose_home_region_is_not_scanned_gives_error(aws):
    make_trail(aws, IsMultiRegionTrail=True)

    result = check(
        "cloudtrail.multi-region-trail",
        scan(aws, ["eu-west-1"]),
        "eu-west-1",
        regions=("eu-west-1",),
    )

    assert result.status == Status.ERROR
    assert "us-east-1, which this scan skips" in result.reason


# -- cloudtrail.log-file-validation ------------------------------------------


def test_log_file_validation_on_passes(aws):
    make_trail(aws, EnableLogFileValidation=True)

    result = check("cloudtrail.log-file-validation", scan(aws), trail_id())

    assert result.status == Status.PASS


def test_log_file_validation_off_fails(aws):
    make_trail(aws)

    result = check("cloudtrail.log-file-validation", scan(aws), trail_id())

    assert result.status == Status.FAIL
    assert "trail main has LogFileValidationEnabled=false" in result.reason


def test_organization_trail_of_another_account_is_not_applicable(aws):
    make_trail(aws)
    (trail,) = [r for r in scan(aws) if r.resource_type == "AWS::CloudTrail::Trail"]
    org_trail = owned_by(trail, OTHER_ACCOUNT)

    result = check("cloudtrail.log-file-validation", [org_trail], org_trail.arn)

    assert result.status == Status.NOT_APPLICABLE
    assert f"owned by account {OTHER_ACCOUNT}" in result.reason


# -- cloudtrail.kms-encryption ------------------------------------------------


def test_trail_encrypted_with_kms_passes(aws):
    key = aws.client("kms").create_key()["KeyMetadata"]["Arn"]
    make_trail(aws, KmsKeyId=key)

    result = check("cloudtrail.kms-encryption", scan(aws), trail_id())

    assert result.status == Status.PASS
    assert key in result.reason


def test_trail_without_kms_key_fails(aws):
    make_trail(aws)

    result = check("cloudtrail.kms-encryption", scan(aws), trail_id())

    assert result.status == Status.FAIL
    assert result.reason.startswith("trail main has no KmsKeyId")


def test_kms_not_applicable_for_another_accounts_trail(aws):
    make_trail(aws)
    (trail,) = [r for r in scan(aws) if r.resource_type == "AWS::CloudTrail::Trail"]
    org_trail = owned_by(trail, OTHER_ACCOUNT)

    result = check("cloudtrail.kms-encryption", [org_trail], org_trail.arn)

    assert result.status == Status.NOT_APPLICABLE


# -- cloudtrail.cloudwatch-logs ----------------------------------------------

LOG_GROUP = f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:cloudtrail:*"
LOG_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/cloudtrail-to-logs"


def test_recent_cloudwatch_delivery_passes(aws):
    make_trail(aws, CloudWatchLogsLogGroupArn=LOG_GROUP, CloudWatchLogsRoleArn=LOG_ROLE)
    answer(
        aws,
        "cloudtrail",
        "GetTrailStatus",
        lambda body: aws_status(NOW - timedelta(minutes=2)),
    )

    result = check("cloudtrail.cloudwatch-logs", scan(aws), trail_id())

    assert result.status == Status.PASS
    assert LOG_GROUP in result.reason


def test_trail_without_log_group_fails(aws):
    make_trail(aws)

    result = check("cloudtrail.cloudwatch-logs", scan(aws), trail_id())

    assert result.status == Status.FAIL
    assert "does not deliver to CloudWatch Logs" in result.reason


def test_log_group_without_recent_delivery_fails(aws):
    make_trail(aws, CloudWatchLogsLogGroupArn=LOG_GROUP, CloudWatchLogsRoleArn=LOG_ROLE)
    answer(
        aws,
        "cloudtrail",
        "GetTrailStatus",
        lambda body: aws_status(
            NOW - timedelta(days=3),
            LatestCloudWatchLogsDeliveryError="AccessDeniedException",
        ),
    )

    result = check("cloudtrail.cloudwatch-logs", scan(aws), trail_id())

    assert result.status == Status.FAIL
    assert "nothing in the last 24 hours" in result.reason
    assert "last delivery error: AccessDeniedException" in result.reason


def test_unreadable_trail_status_gives_error(aws):
    make_trail(aws, CloudWatchLogsLogGroupArn=LOG_GROUP, CloudWatchLogsRoleArn=LOG_ROLE)
    deny(aws, "cloudtrail", "GetTrailStatus")

    result = check("cloudtrail.cloudwatch-logs", scan(aws), trail_id())

    assert result.status == Status.ERROR


# -- cloudtrail.bucket-access-logging -----------------------------------------


@pytest.fixture(scope="module")
def trail_records():
    """An account with one trail, collected once: these tests vary the S3 side."""
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        make_trail(session)
        return scan(session)


def on_bucket(control_id, trail_records, *buckets, **kwargs):
    return check(control_id, [*trail_records, *buckets], trail_id(), **kwargs)


def test_trail_bucket_with_access_logging_passes(trail_records):
    result = on_bucket("cloudtrail.bucket-access-logging", trail_records, bucket())

    assert result.status == Status.PASS
    assert "access-logs/audit/" in result.reason


def test_trail_bucket_without_access_logging_fails(trail_records):
    result = on_bucket(
        "cloudtrail.bucket-access-logging", trail_records, bucket(Logging={})
    )

    assert result.status == Status.FAIL
    assert result.reason == (
        f"trail main's bucket {TRAIL_BUCKET} has server access logging off"
    )


def test_bucket_in_another_account_is_not_applicable(trail_records):
    result = on_bucket(
        "cloudtrail.bucket-access-logging", trail_records, bucket("some-other-bucket")
    )

    assert result.status == Status.NOT_APPLICABLE
    assert "not one of this account's buckets" in result.reason


def test_unreadable_bucket_logging_gives_error(trail_records):
    denied = bucket(Logging=None, **{ERRORS_KEY: {"Logging": "access_denied: x"}})

    result = on_bucket("cloudtrail.bucket-access-logging", trail_records, denied)

    assert result.status == Status.ERROR


def test_uncollected_buckets_give_error(trail_records):
    result = on_bucket(
        "cloudtrail.bucket-access-logging",
        trail_records,
        uncollected={"AWS::S3::Bucket": "AccessDenied"},
    )

    assert result.status == Status.ERROR


# -- cloudtrail.bucket-not-public ---------------------------------------------


def bucket_not_public(trail_records, trail_bucket):
    return on_bucket("cloudtrail.bucket-not-public", trail_records, trail_bucket)


def test_private_trail_bucket_passes(trail_records):
    assert bucket_not_public(trail_records, bucket()).status == Status.PASS


def test_partial_public_access_block_fails(trail_records):
    block = {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": False,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }

    result = bucket_not_public(trail_records, bucket(PublicAccessBlock=block))

    assert result.status == Status.FAIL
    assert "3 of 4 public access block flags on: IgnorePublicAcls off" in result.reason


def test_missing_public_access_block_fails(trail_records):
    result = bucket_not_public(trail_records, bucket(PublicAccessBlock=None))

    assert result.status == Status.FAIL
    assert "no public access block" in result.reason


def test_public_policy_status_fails(trail_records):
    result = bucket_not_public(trail_records, bucket(PolicyStatus={"IsPublic": True}))

    assert result.status == Status.FAIL
    assert "bucket policy is public" in result.reason


def test_public_policy_fails_even_without_a_policy_status_verdict(trail_records):
    # moto answers get_bucket_policy_status with an empty PolicyStatus.
    public = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{TRAIL_BUCKET}/*",
            }
        ],
    }

    result = bucket_not_public(trail_records, bucket(PolicyStatus={}, Policy=public))

    assert result.status == Status.FAIL
    assert "bucket policy allows Principal * on s3:GetObject" in result.reason


def test_acl_grant_to_all_users_fails(trail_records):
    acl = {
        "Owner": {"ID": "owner"},
        "Grants": [
            {
                "Grantee": {
                    "Type": "Group",
                    "URI": "http://acs.amazonaws.com/groups/global/AllUsers",
                },
                "Permission": "READ",
            }
        ],
    }

    result = bucket_not_public(trail_records, bucket(Acl=acl))

    assert result.status == Status.FAIL
    assert "ACL grants READ to AllUsers" in result.reason


def test_public_check_not_applicable_for_another_accounts_bucket(trail_records):
    result = bucket_not_public(trail_records, bucket("unrelated"))

    assert result.status == Status.NOT_APPLICABLE


def test_unreadable_bucket_acl_gives_error(trail_records):
    denied = bucket(Acl=None, **{ERRORS_KEY: {"Acl": "access_denied: x"}})

    assert bucket_not_public(trail_records, denied).status == Status.ERROR


# -- cloudtrail.s3-object-write-events / read-events -------------------------


def test_basic_write_only_data_selector_logs_writes_not_reads(aws):
    make_trail(aws, IsMultiRegionTrail=True)
    put_selectors(
        aws,
        EventSelectors=[
            {
                "ReadWriteType": "WriteOnly",
                "IncludeManagementEvents": True,
                "DataResources": [
                    {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}
                ],
            }
        ],
    )
    records = scan(aws)

    write = check("cloudtrail.s3-object-write-events", records)
    read = check("cloudtrail.s3-object-read-events", records)

    assert write.status == Status.PASS
    assert read.status == Status.FAIL
    assert "logs S3 object-level write events but not read events" in read.reason


def test_advanced_write_selector_passes_writes(aws):
    make_trail(aws, IsMultiRegionTrail=True)
    put_selectors(aws, AdvancedEventSelectors=[MANAGEMENT, S3_WRITES])
    records = scan(aws)

    assert check("cloudtrail.s3-object-write-events", records).status == Status.PASS
    assert check("cloudtrail.s3-object-read-events", records).status == Status.FAIL


def test_all_data_events_pass_reads(aws):
    make_trail(aws, IsMultiRegionTrail=True)
    put_selectors(
        aws,
        EventSelectors=[
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "DataResources": [
                    {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::"]}
                ],
            }
        ],
    )

    result = check("cloudtrail.s3-object-read-events", scan(aws))

    assert result.status == Status.PASS


def test_default_selectors_log_no_s3_data_events(aws):
    make_trail(aws, IsMultiRegionTrail=True)

    result = check("cloudtrail.s3-object-write-events", scan(aws))

    assert result.status == Status.FAIL
    assert result.reason == (
        "multi-region trail main logs no S3 object-level data events for all buckets"
    )


def test_data_events_for_one_bucket_do_not_count(aws):
    make_trail(aws, IsMultiRegionTrail=True)
    put_selectors(
        aws,
        EventSelectors=[
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "DataResources": [
                    {
                        "Type": "AWS::S3::Object",
                        "Values": [f"arn:aws:s3:::{TRAIL_BUCKET}/"],
                    }
                ],
            }
        ],
    )

    assert check("cloudtrail.s3-object-write-events", scan(aws)).status == Status.FAIL


def test_data_events_on_a_single_region_trail_do_not_count(aws):
    make_trail(aws, "local")
    put_selectors(aws, "local", AdvancedEventSelectors=[MANAGEMENT, S3_WRITES])

    result = check("cloudtrail.s3-object-write-events", scan(aws))

    assert result.status == Status.FAIL
    assert "no multi-region trail covers us-east-1" in result.reason


def test_unreadable_selectors_give_error_for_data_events(aws):
    make_trail(aws, IsMultiRegionTrail=True)
    deny(aws, "cloudtrail", "GetEventSelectors")

    result = check("cloudtrail.s3-object-read-events", scan(aws))

    assert result.status == Status.ERROR


# -- config.recorder.all-regions ----------------------------------------------


def recorder(session, region="us-east-1", *, start=True, **group):
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
        s3 = session.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=f"config-{region}")
        client.put_delivery_channel(
            DeliveryChannel={"name": "default", "s3BucketName": f"config-{region}"}
        )
        client.start_configuration_recorder(ConfigurationRecorderName="default")


def config_scan(session, regions=("us-east-1",)):
    records = []
    for region in regions:
        records += collect("config", region, session=session, now=NOW)
    return records


def test_recording_all_resources_including_global_passes(aws):
    recorder(aws)

    result = check("config.recorder.all-regions", config_scan(aws))

    assert result.status == Status.PASS
    assert "including global (IAM) types" in result.reason


def test_region_without_recorder_fails(aws):
    recorder(aws)
    regions = ("us-east-1", "eu-west-1")

    results = evaluate(
        "config.recorder.all-regions", config_scan(aws, regions), regions=regions
    )

    assert results["us-east-1"].status == Status.PASS
    assert results["eu-west-1"].status == Status.FAIL
    assert results["eu-west-1"].reason == (
        "no AWS Config configuration recorder in eu-west-1"
    )


def test_stopped_recorder_fails(aws):
    recorder(aws, start=False)

    result = check("config.recorder.all-regions", config_scan(aws))

    assert result.status == Status.FAIL
    assert "recorder default is not recording (stopped)" in result.reason


def test_recorder_of_selected_types_only_fails(aws):
    recorder(
        aws,
        allSupported=False,
        includeGlobalResourceTypes=False,
        resourceTypes=["AWS::EC2::Instance", "AWS::S3::Bucket"],
        recordingStrategy={"useOnly": "INCLUSION_BY_RESOURCE_TYPES"},
    )

    result = check("config.recorder.all-regions", config_scan(aws))

    assert result.status == Status.FAIL
    assert "records only 2 selected resource types" in result.reason


def test_global_types_recorded_in_another_region_pass(aws):
    recorder(aws)
    recorder(aws, "eu-west-1", allSupported=True, includeGlobalResourceTypes=False)
    regions = ("us-east-1", "eu-west-1")

    result = check(
        "config.recorder.all-regions",
        config_scan(aws, regions),
        "eu-west-1",
        regions=regions,
    )

    assert result.status == Status.PASS
    assert "global (IAM) types are recorded in us-east-1" in result.reason


def test_global_types_recorded_nowhere_fail(aws):
    recorder(aws, allSupported=True, includeGlobalResourceTypes=False)

    result = check("config.recorder.all-regions", config_scan(aws))

    assert result.status == Status.FAIL
    assert "no region records global (IAM) resource types" in result.reason


def test_failed_last_recording_fails(aws):
    recorder(aws)
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
                    "lastStatusChangeTime": NOW - timedelta(hours=1),
                }
            ]
        },
    )

    result = check("config.recorder.all-regions", config_scan(aws))

    assert result.status == Status.FAIL
    assert "last recording attempt failed (AccessDenied)" in result.reason


def test_unreadable_recorder_status_gives_error(aws):
    recorder(aws)
    deny(aws, "config", "DescribeConfigurationRecorderStatus")

    result = check("config.recorder.all-regions", config_scan(aws))

    assert result.status == Status.ERROR


def test_global_types_unknown_when_other_region_not_collected(aws):
    recorder(aws, "eu-west-1", allSupported=True, includeGlobalResourceTypes=False)
    regions = ("us-east-1", "eu-west-1")

    result = check(
        "config.recorder.all-regions",
        config_scan(aws, ["eu-west-1"]),
        "eu-west-1",
        regions=regions,
        uncollected={("AWS::Config::ConfigurationRecorder", "us-east-1"): "throttled"},
    )

    assert result.status == Status.ERROR


def test_account_without_trails_has_no_per_trail_findings(aws):
    records = scan(aws)

    for control_id in (
        "cloudtrail.log-file-validation",
        "cloudtrail.cloudwatch-logs",
        "cloudtrail.kms-encryption",
        "cloudtrail.bucket-access-logging",
        "cloudtrail.bucket-not-public",
    ):
        assert evaluate(control_id, records, now=NOW) == {}, control_id
