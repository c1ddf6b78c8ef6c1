"""The S3 collector against moto: records, regions, sub-call failures, paging."""

import json

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from moto import mock_aws

from accounts.aws import forget_credentials
from findings.testing import ACCOUNT_ID, collect, deny

BUCKET = "AWS::S3::Bucket"
ACCOUNT_PAB = "AWS::S3::AccountPublicAccessBlock"
FULL_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


@pytest.fixture
def aws():
    """moto without the IAM managed policies the root fixture loads.

    S3 needs none of them, and loading them costs seconds per test.
    """
    with mock_aws():
        forget_credentials()
        yield boto3.Session(region_name="us-east-1")
    forget_credentials()


def respond(session, operation: str, answer) -> None:
    """Answer ``s3.operation`` with ``answer(query_string)`` instead of moto."""

    def handler(params, **kwargs):
        http = AWSResponse("https://stub.invalid", 200, {}, None)
        parsed = answer(params.get("query_string") or {})
        return http, {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200}}

    session.events.register(f"before-call.s3.{operation}", handler)


def by_id(records):
    return {r.resource_id: r for r in records}


def test_new_bucket_is_collected_with_not_configured_values(aws):
    aws.client("s3").create_bucket(Bucket="plain-bucket")

    records = by_id(collect("s3", session=aws))

    bucket = records["plain-bucket"]
    assert bucket.resource_type == BUCKET
    assert bucket.region == "us-east-1"
    assert bucket.arn == "arn:aws:s3:::plain-bucket"
    assert bucket.tags == {}
    config = bucket.config
    assert config["Policy"] is None
    assert config["PolicyStatus"] == {}
    assert config["PublicAccessBlock"] is None
    assert config["OwnershipControls"] is None
    assert config["Encryption"] is None
    assert config["Versioning"] == {}
    assert config["Logging"] == {}
    assert config["Cors"] is None
    assert config["ObjectLock"] is None
    assert config["Acl"]["Grants"][0]["Permission"] == "FULL_CONTROL"
    assert "_errors" not in config


def test_account_block_public_access_absent_is_still_a_record(aws):
    records = collect("s3", session=aws)

    assert [(r.resource_type, r.resource_id) for r in records] == [
        (ACCOUNT_PAB, ACCOUNT_ID)
    ]
    assert records[0].config == {"PublicAccessBlock": None}


def test_account_block_public_access_configured(aws):
    aws.client("s3control").put_public_access_block(
        AccountId=ACCOUNT_ID, PublicAccessBlockConfiguration=FULL_BLOCK
    )

    account = by_id(collect("s3", session=aws))[ACCOUNT_ID]

    assert account.config == {"PublicAccessBlock": FULL_BLOCK}


def test_account_block_public_access_denied_is_recorded(aws):
    deny(aws, "s3control", "GetPublicAccessBlock")

    account = by_id(collect("s3", session=aws))[ACCOUNT_ID]

    assert account.config["PublicAccessBlock"] is None
    assert "access_denied" in account.config["_errors"]["PublicAccessBlock"]


def test_configured_bucket_keeps_each_setting_under_its_key(aws):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="target-logs")
    s3.put_bucket_acl(Bucket="target-logs", ACL="log-delivery-write")
    s3.create_bucket(Bucket="full-bucket", ObjectLockEnabledForBucket=True)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::full-bucket/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket="full-bucket", Policy=json.dumps(policy))
    s3.put_public_access_block(
        Bucket="full-bucket", PublicAccessBlockConfiguration=FULL_BLOCK
    )
    s3.put_bucket_encryption(
        Bucket="full-bucket",
        ServerSideEncryptionConfiguration={
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}
            ]
        },
    )
    s3.put_bucket_logging(
        Bucket="full-bucket",
        BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": "target-logs", "TargetPrefix": "f/"}
        },
    )
    s3.put_bucket_tagging(
        Bucket="full-bucket",
        Tagging={"TagSet": [{"Key": "data-retention", "Value": "worm"}]},
    )
    s3.put_bucket_cors(
        Bucket="full-bucket",
        CORSConfiguration={
            "CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}]
        },
    )
    s3.put_object_lock_configuration(
        Bucket="full-bucket",
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 30}},
        },
    )
    s3.put_bucket_ownership_controls(
        Bucket="full-bucket",
        OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    )

    bucket = by_id(collect("s3", session=aws))["full-bucket"]

    config = bucket.config
    assert config["Policy"] == policy  # parsed, not a JSON string
    assert config["PolicyStatus"] == {"IsPublic": True}
    assert config["PublicAccessBlock"] == FULL_BLOCK
    rule = config["Encryption"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert config["Versioning"] == {"Status": "Enabled"}  # Object Lock implies it
    assert config["Logging"] == {
        "LoggingEnabled": {"TargetBucket": "target-logs", "TargetPrefix": "f/"}
    }
    assert bucket.tags == {"data-retention": "worm"}
    assert "Tags" not in config
    assert config["Cors"]["CORSRules"][0]["AllowedOrigins"] == ["*"]
    assert config["ObjectLock"]["ObjectLockEnabled"] == "Enabled"
    assert config["ObjectLock"]["Rule"]["DefaultRetention"]["Days"] == 30
    assert config["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]
    }
    assert "_errors" not in config


@pytest.mark.parametrize(
    ("location", "region"),
    [("eu-central-1", "eu-central-1"), ("EU", "eu-west-1")],
)
def test_bucket_record_carries_its_real_region(aws, location, region):
    aws.client("s3").create_bucket(
        Bucket="far-bucket", CreateBucketConfiguration={"LocationConstraint": location}
    )

    bucket = by_id(collect("s3", session=aws))["far-bucket"]

    assert bucket.region == region


def test_denied_sub_call_is_recorded_not_read_as_absent(aws):
    aws.client("s3").create_bucket(Bucket="guarded")
    deny(aws, "s3", "GetBucketPolicy")
    deny(aws, "s3", "GetBucketTagging")

    bucket = by_id(collect("s3", session=aws))["guarded"]

    errors = bucket.config["_errors"]
    assert set(errors) == {"Policy", "Tags"}
    assert errors["Policy"].startswith("access_denied")
    # The other settings were still read.
    assert bucket.config["Versioning"] == {}


def test_policy_status_is_asked_only_when_a_policy_exists(aws):
    aws.client("s3").create_bucket(Bucket="no-policy")
    deny(aws, "s3", "GetBucketPolicyStatus")

    bucket = by_id(collect("s3", session=aws))["no-policy"]

    assert bucket.config["PolicyStatus"] == {}
    assert "_errors" not in bucket.config


def test_list_buckets_follows_continuation_tokens(aws):
    s3 = aws.client("s3")
    for name in ("page-one-a", "page-one-b", "page-two-a"):
        s3.create_bucket(Bucket=name)
    seen_tokens, page_sizes = [], []

    def pages(query):
        seen_tokens.append(query.get("continuation-token"))
        page_sizes.append(query.get("max-buckets"))
        if query.get("continuation-token") == "next-page":
            return {"Buckets": [{"Name": "page-two-a"}]}
        return {
            "Buckets": [{"Name": "page-one-a"}, {"Name": "page-one-b"}],
            "ContinuationToken": "next-page",
        }

    respond(aws, "ListBuckets", pages)

    records = collect("s3", session=aws)

    assert seen_tokens == [None, "next-page"]
    # Paged requests: AWS rejects unpaged ListBuckets above a 10,000 quota.
    assert page_sizes == [10_000, 10_000]
    assert sorted(r.resource_id for r in records if r.resource_type == BUCKET) == [
        "page-one-a",
        "page-one-b",
        "page-two-a",
    ]


def test_denied_bucket_listing_raises(aws):
    aws.client("s3").create_bucket(Bucket="hidden")
    deny(aws, "s3", "ListBuckets")

    with pytest.raises(ClientError) as exc:
        collect("s3", session=aws)

    assert exc.value.response["Error"]["Code"] == "AccessDenied"


def test_bucket_deleted_after_listing_is_skipped(aws):
    aws.client("s3").create_bucket(Bucket="short-lived")
    deny(aws, "s3", "GetBucketLocation", code="NoSuchBucket")

    records = collect("s3", session=aws)

    assert [r.resource_type for r in records] == [ACCOUNT_PAB]


def test_denied_location_falls_back_to_the_listed_region(aws):
    aws.client("s3").create_bucket(
        Bucket="listed-region",
        CreateBucketConfiguration={"LocationConstraint": "ap-southeast-2"},
    )
    deny(aws, "s3", "GetBucketLocation")
    # Current AWS listings carry BucketRegion; moto's do not.
    respond(
        aws,
        "ListBuckets",
        lambda query: {
            "Buckets": [{"Name": "listed-region", "BucketRegion": "ap-southeast-2"}]
        },
    )

    bucket = by_id(collect("s3", session=aws))["listed-region"]

    assert bucket.region == "ap-southeast-2"


def test_unknown_region_fails_the_unit_instead_of_dropping_the_bucket(aws):
    aws.client("s3").create_bucket(Bucket="where-is-it")
    deny(aws, "s3", "GetBucketLocation")

    with pytest.raises(ClientError):
        collect("s3", session=aws)


def test_config_is_stable_for_unchanged_buckets(aws):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="steady")
    s3.put_bucket_versioning(
        Bucket="steady", VersioningConfiguration={"Status": "Enabled"}
    )

    first = by_id(collect("s3", session=aws))
    second = by_id(collect("s3", session=aws))

    for resource_id, record in first.items():
        assert json.dumps(record.config, sort_keys=True) == json.dumps(
            second[resource_id].config, sort_keys=True
        )
