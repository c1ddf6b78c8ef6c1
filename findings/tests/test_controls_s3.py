"""S3 controls, evaluated on what the real collector reads from moto.

Where moto answers differently from AWS (MFADelete is never reported, an empty
PolicyStatus in older moto, SSE-S3 default encryption), the AWS answer is
served in place of moto's through a botocore hook, so the collector and the
control still see exactly what AWS would return.
"""

import json

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from accounts.aws import forget_credentials
from findings.controls import REGISTRY
from findings.controls.base import Severity, Status
from findings.testing import ACCOUNT_ID, collect, deny, evaluate

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


def respond(session, operation: str, parsed: dict) -> None:
    """Answer ``s3.operation`` with ``parsed`` (an AWS-shaped response)."""

    def handler(**kwargs):
        http = AWSResponse("https://stub.invalid", 200, {}, None)
        return http, {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200}}

    session.events.register(f"before-call.s3.{operation}", handler)


def check(aws, control_id: str, resource_id: str = "the-bucket"):
    return evaluate(control_id, collect("s3", session=aws))[resource_id]


def make_bucket(aws, name: str = "the-bucket", **kwargs):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=name, **kwargs)
    return s3


def put_policy(s3, *statements, bucket: str = "the-bucket") -> None:
    policy = {"Version": "2012-10-17", "Statement": list(statements)}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def allow_everyone(action="s3:GetObject", condition=None) -> dict:
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": action,
        "Resource": "arn:aws:s3:::the-bucket/*",
    }
    if condition:
        statement["Condition"] = condition
    return statement


def deny_plain_http(resource=None) -> dict:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:*",
        "Resource": resource
        or ["arn:aws:s3:::the-bucket", "arn:aws:s3:::the-bucket/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


# -- catalog ------------------------------------------------------------------

CATALOG = [
    # id, severity, (CIS v3, v4), Security Hub
    ("s3.account.public-access-blocked", Severity.HIGH, ("2.1.4", "2.1.4"), ("S3.1",)),
    ("s3.bucket.public-access-blocked", Severity.HIGH, ("2.1.4", "2.1.4"), ("S3.8",)),
    ("s3.bucket.no-public-policy", Severity.CRITICAL, ("", ""), ("S3.2", "S3.3")),
    (
        "s3.bucket.no-public-acl",
        Severity.CRITICAL,
        ("", ""),
        ("S3.2", "S3.3", "S3.12"),
    ),
    ("s3.bucket.tls-only", Severity.MEDIUM, ("2.1.1", "2.1.1"), ("S3.5",)),
    ("s3.bucket.kms-encryption", Severity.MEDIUM, ("", ""), ("S3.17*",)),
    ("s3.bucket.versioning", Severity.MEDIUM, ("", ""), ("S3.14*",)),
    ("s3.bucket.mfa-delete", Severity.LOW, ("2.1.2", "2.1.2"), ("S3.20*",)),
    ("s3.bucket.access-logging", Severity.MEDIUM, ("", ""), ("S3.9",)),
    ("s3.bucket.cors-no-wildcard-write", Severity.MEDIUM, ("", ""), ()),
    ("s3.bucket.object-lock-where-required", Severity.MEDIUM, ("", ""), ("S3.15*",)),
]


@pytest.mark.parametrize(("control_id", "severity", "cis", "security_hub"), CATALOG)
def test_catalog_entry_matches_the_reference(control_id, severity, cis, security_hub):
    ctl = REGISTRY[control_id]
    assert ctl.section == "service/storage/s3"
    assert ctl.severity == severity
    assert (ctl.cis_v3, ctl.cis_v4) == cis
    assert ctl.security_hub == security_hub
    assert ctl.rationale
    assert ctl.remediation
    assert ctl.remediation_cli.startswith("aws s3")


def test_no_buckets_means_no_bucket_findings(aws):
    records = collect("s3", session=aws)
    for control_id, *_ in CATALOG[1:]:
        assert evaluate(control_id, records) == {}


# -- s3.account.public-access-blocked -----------------------------------------


def put_account_block(aws, **flags) -> None:
    aws.client("s3control").put_public_access_block(
        AccountId=ACCOUNT_ID,
        PublicAccessBlockConfiguration={**FULL_BLOCK, **flags},
    )


def test_account_block_all_on_passes(aws):
    put_account_block(aws)
    result = check(aws, "s3.account.public-access-blocked", ACCOUNT_ID)
    assert result.status == Status.PASS


def test_account_block_absent_fails(aws):
    result = check(aws, "s3.account.public-access-blocked", ACCOUNT_ID)
    assert result.status == Status.FAIL
    assert "not configured" in result.reason


def test_account_block_partial_fails_naming_the_flag(aws):
    put_account_block(aws, IgnorePublicAcls=False)
    result = check(aws, "s3.account.public-access-blocked", ACCOUNT_ID)
    assert result.status == Status.FAIL
    assert result.reason.startswith("3 of 4 flags on: IgnorePublicAcls is off")


def test_account_block_denied_is_error(aws):
    put_account_block(aws)
    deny(aws, "s3control", "GetPublicAccessBlock")
    result = check(aws, "s3.account.public-access-blocked", ACCOUNT_ID)
    assert result.status == Status.ERROR


# -- s3.bucket.public-access-blocked ------------------------------------------


def test_bucket_block_all_on_passes(aws):
    s3 = make_bucket(aws)
    s3.put_public_access_block(
        Bucket="the-bucket", PublicAccessBlockConfiguration=FULL_BLOCK
    )
    assert check(aws, "s3.bucket.public-access-blocked").status == Status.PASS


def test_bucket_block_absent_fails(aws):
    make_bucket(aws)
    result = check(aws, "s3.bucket.public-access-blocked")
    assert result.status == Status.FAIL
    assert "not configured" in result.reason


def test_bucket_block_partial_fails_naming_the_flags(aws):
    s3 = make_bucket(aws)
    s3.put_public_access_block(
        Bucket="the-bucket",
        PublicAccessBlockConfiguration={
            **FULL_BLOCK,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    result = check(aws, "s3.bucket.public-access-blocked")
    assert result.status == Status.FAIL
    assert result.reason.startswith(
        "2 of 4 flags on: BlockPublicPolicy, RestrictPublicBuckets are off"
    )


def test_bucket_block_denied_is_error(aws):
    s3 = make_bucket(aws)
    s3.put_public_access_block(
        Bucket="the-bucket", PublicAccessBlockConfiguration=FULL_BLOCK
    )
    deny(aws, "s3", "GetPublicAccessBlock")
    assert check(aws, "s3.bucket.public-access-blocked").status == Status.ERROR


# -- s3.bucket.no-public-policy -----------------------------------------------


def test_no_policy_passes(aws):
    make_bucket(aws)
    result = check(aws, "s3.bucket.no-public-policy")
    assert result.status == Status.PASS
    assert "no bucket policy" in result.reason


def test_policy_for_one_account_passes(aws):
    s3 = make_bucket(aws)
    statement = allow_everyone()
    statement["Principal"] = {"AWS": "arn:aws:iam::111122223333:root"}
    put_policy(s3, statement)
    assert check(aws, "s3.bucket.no-public-policy").status == Status.PASS


def test_public_policy_fails_naming_the_grant(aws):
    s3 = make_bucket(aws)
    put_policy(s3, allow_everyone())
    result = check(aws, "s3.bucket.no-public-policy")
    assert result.status == Status.FAIL
    assert "bucket policy allows Principal * on s3:GetObject" in result.reason


def test_empty_policy_status_is_judged_from_the_document(aws):
    # moto 5.2.1 answered every policy with an empty PolicyStatus.
    s3 = make_bucket(aws)
    put_policy(s3, allow_everyone(["s3:GetObject", "s3:PutObject"]))
    respond(aws, "GetBucketPolicyStatus", {"PolicyStatus": {}})
    result = check(aws, "s3.bucket.no-public-policy")
    assert result.status == Status.FAIL
    assert "Principal * on s3:GetObject, s3:PutObject" in result.reason


def test_empty_policy_status_with_condition_that_restricts_nothing_fails(aws):
    s3 = make_bucket(aws)
    put_policy(s3, allow_everyone(condition={"Bool": {"aws:SecureTransport": "true"}}))
    respond(aws, "GetBucketPolicyStatus", {"PolicyStatus": {}})
    assert check(aws, "s3.bucket.no-public-policy").status == Status.FAIL


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}},
        {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}},
        {"IpAddress": {"aws:SourceIp": ["192.0.2.0/24"]}},
    ],
)
def test_empty_policy_status_with_restricting_condition_passes(aws, condition):
    s3 = make_bucket(aws)
    put_policy(s3, allow_everyone(condition=condition))
    respond(aws, "GetBucketPolicyStatus", {"PolicyStatus": {}})
    assert check(aws, "s3.bucket.no-public-policy").status == Status.PASS


@pytest.mark.parametrize(
    "condition",
    [
        {"StringLike": {"aws:SourceVpce": "vpce-*"}},  # wildcard: not fixed
        {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}},
        {"StringNotEquals": {"aws:SourceAccount": "111122223333"}},
    ],
)
def test_empty_policy_status_with_loose_condition_fails(aws, condition):
    s3 = make_bucket(aws)
    put_policy(s3, allow_everyone(condition=condition))
    respond(aws, "GetBucketPolicyStatus", {"PolicyStatus": {}})
    assert check(aws, "s3.bucket.no-public-policy").status == Status.FAIL


def test_policy_denied_is_error(aws):
    s3 = make_bucket(aws)
    put_policy(s3, allow_everyone())
    deny(aws, "s3", "GetBucketPolicy")
    deny(aws, "s3", "GetBucketPolicyStatus")
    assert check(aws, "s3.bucket.no-public-policy").status == Status.ERROR


def test_policy_status_denied_with_private_looking_document_is_error(aws):
    s3 = make_bucket(aws)
    put_policy(
        s3,
        allow_everyone(condition={"StringEquals": {"aws:SourceVpce": "vpce-1"}}),
    )
    deny(aws, "s3", "GetBucketPolicyStatus")
    assert check(aws, "s3.bucket.no-public-policy").status == Status.ERROR


# -- s3.bucket.no-public-acl --------------------------------------------------


def test_private_acl_passes(aws):
    make_bucket(aws)
    assert check(aws, "s3.bucket.no-public-acl").status == Status.PASS


ALL_USERS = 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'
AUTHENTICATED_USERS = 'uri="http://acs.amazonaws.com/groups/global/AuthenticatedUsers"'


@pytest.mark.parametrize(
    ("grants", "reason"),
    [
        ({"ACL": "public-read"}, "bucket ACL grants READ to AllUsers"),
        (
            {"GrantRead": ALL_USERS, "GrantWrite": ALL_USERS},
            "bucket ACL grants READ, WRITE to AllUsers",
        ),
        ({"ACL": "authenticated-read"}, "bucket ACL grants READ to AuthenticatedUsers"),
    ],
)
def test_public_acl_fails(aws, grants, reason):
    s3 = make_bucket(aws)
    s3.put_bucket_acl(Bucket="the-bucket", **grants)
    result = check(aws, "s3.bucket.no-public-acl")
    assert result.status == Status.FAIL
    assert result.reason == reason


def test_acls_disabled_passes_even_if_the_acl_is_unreadable(aws):
    s3 = make_bucket(aws)
    s3.put_bucket_ownership_controls(
        Bucket="the-bucket",
        OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    )
    deny(aws, "s3", "GetBucketAcl")
    result = check(aws, "s3.bucket.no-public-acl")
    assert result.status == Status.PASS
    assert "BucketOwnerEnforced" in result.reason


def test_acl_denied_is_error(aws):
    make_bucket(aws)
    deny(aws, "s3", "GetBucketAcl")
    assert check(aws, "s3.bucket.no-public-acl").status == Status.ERROR


# -- s3.bucket.tls-only -------------------------------------------------------


def test_deny_insecure_transport_passes(aws):
    s3 = make_bucket(aws)
    put_policy(s3, deny_plain_http())
    assert check(aws, "s3.bucket.tls-only").status == Status.PASS


def test_deny_split_over_two_statements_passes(aws):
    s3 = make_bucket(aws)
    put_policy(
        s3,
        deny_plain_http("arn:aws:s3:::the-bucket"),
        {**deny_plain_http("arn:aws:s3:::the-bucket/*"), "Sid": "Objects"},
    )
    assert check(aws, "s3.bucket.tls-only").status == Status.PASS


def test_no_policy_fails_tls_only(aws):
    make_bucket(aws)
    result = check(aws, "s3.bucket.tls-only")
    assert result.status == Status.FAIL
    assert "no bucket policy" in result.reason


def test_deny_covering_only_objects_fails(aws):
    s3 = make_bucket(aws)
    put_policy(s3, deny_plain_http("arn:aws:s3:::the-bucket/*"))
    result = check(aws, "s3.bucket.tls-only")
    assert result.status == Status.FAIL
    assert "does not cover arn:aws:s3:::the-bucket," in result.reason


def test_deny_of_a_narrow_prefix_fails(aws):
    s3 = make_bucket(aws)
    put_policy(
        s3,
        deny_plain_http(["arn:aws:s3:::the-bucket", "arn:aws:s3:::the-bucket/tmp/*"]),
    )
    assert check(aws, "s3.bucket.tls-only").status == Status.FAIL


def test_deny_narrowed_to_one_vpc_fails(aws):
    s3 = make_bucket(aws)
    statement = deny_plain_http()
    statement["Condition"]["StringEquals"] = {"aws:SourceVpc": "vpc-1a2b3c4d"}
    put_policy(s3, statement)
    assert check(aws, "s3.bucket.tls-only").status == Status.FAIL


def test_policy_without_transport_deny_fails(aws):
    s3 = make_bucket(aws)
    statement = allow_everyone()
    statement["Principal"] = {"AWS": "arn:aws:iam::111122223333:root"}
    put_policy(s3, statement)
    result = check(aws, "s3.bucket.tls-only")
    assert result.status == Status.FAIL
    assert "aws:SecureTransport" in result.reason


def test_tls_policy_denied_is_error(aws):
    s3 = make_bucket(aws)
    put_policy(s3, deny_plain_http())
    deny(aws, "s3", "GetBucketPolicy")
    assert check(aws, "s3.bucket.tls-only").status == Status.ERROR


# -- s3.bucket.kms-encryption -------------------------------------------------


def put_encryption(s3, algorithm: str) -> None:
    s3.put_bucket_encryption(
        Bucket="the-bucket",
        ServerSideEncryptionConfiguration={
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": algorithm}}
            ]
        },
    )


@pytest.mark.parametrize("algorithm", ["aws:kms", "aws:kms:dsse"])
def test_kms_default_encryption_passes(aws, algorithm):
    s3 = make_bucket(aws)
    put_encryption(s3, algorithm)
    result = check(aws, "s3.bucket.kms-encryption")
    assert result.status == Status.PASS
    assert algorithm in result.reason


def test_sse_s3_as_aws_returns_it_fails(aws):
    make_bucket(aws)
    # What AWS answers for a bucket created without an encryption setting.
    respond(
        aws,
        "GetBucketEncryption",
        {
            "ServerSideEncryptionConfiguration": {
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "AES256"
                        },
                        "BucketKeyEnabled": False,
                    }
                ]
            }
        },
    )
    result = check(aws, "s3.bucket.kms-encryption")
    assert result.status == Status.FAIL
    assert result.reason == "default encryption is AES256 (SSE-S3), not SSE-KMS"


def test_missing_encryption_configuration_is_read_as_sse_s3(aws):
    make_bucket(aws)  # moto returns no configuration at all
    result = check(aws, "s3.bucket.kms-encryption")
    assert result.status == Status.FAIL
    assert "SSE-S3" in result.reason


def test_encryption_denied_is_error(aws):
    s3 = make_bucket(aws)
    put_encryption(s3, "aws:kms")
    deny(aws, "s3", "GetBucketEncryption")
    assert check(aws, "s3.bucket.kms-encryption").status == Status.ERROR


# -- s3.bucket.versioning -----------------------------------------------------


def test_versioning_enabled_passes(aws):
    s3 = make_bucket(aws)
    s3.put_bucket_versioning(
        Bucket="the-bucket", VersioningConfiguration={"Status": "Enabled"}
    )
    assert check(aws, "s3.bucket.versioning").status == Status.PASS


def test_versioning_never_enabled_fails(aws):
    make_bucket(aws)
    result = check(aws, "s3.bucket.versioning")
    assert result.status == Status.FAIL
    assert result.reason == "versioning has never been enabled"


def test_versioning_suspended_fails(aws):
    s3 = make_bucket(aws)
    s3.put_bucket_versioning(
        Bucket="the-bucket", VersioningConfiguration={"Status": "Suspended"}
    )
    result = check(aws, "s3.bucket.versioning")
    assert result.status == Status.FAIL
    assert result.reason == "versioning is Suspended"


def test_versioning_denied_is_error(aws):
    s3 = make_bucket(aws)
    s3.put_bucket_versioning(
        Bucket="the-bucket", VersioningConfiguration={"Status": "Enabled"}
    )
    deny(aws, "s3", "GetBucketVersioning")
    assert check(aws, "s3.bucket.versioning").status == Status.ERROR


# -- s3.bucket.mfa-delete -----------------------------------------------------


def test_mfa_delete_enabled_passes(aws):
    make_bucket(aws)
    # moto never reports MFADelete; this is AWS's answer once it is on.
    respond(aws, "GetBucketVersioning", {"Status": "Enabled", "MFADelete": "Enabled"})
    assert check(aws, "s3.bucket.mfa-delete").status == Status.PASS


def test_versioned_bucket_without_mfa_delete_fails(aws):
    s3 = make_bucket(aws)
    s3.put_bucket_versioning(
        Bucket="the-bucket", VersioningConfiguration={"Status": "Enabled"}
    )
    result = check(aws, "s3.bucket.mfa-delete")
    assert result.status == Status.FAIL
    assert result.reason == "versioning is Enabled but MFA delete is not configured"


def test_mfa_delete_disabled_as_aws_returns_it_fails(aws):
    make_bucket(aws)
    respond(aws, "GetBucketVersioning", {"Status": "Enabled", "MFADelete": "Disabled"})
    result = check(aws, "s3.bucket.mfa-delete")
    assert result.status == Status.FAIL
    assert "MFA delete is Disabled" in result.reason


def test_unversioned_bucket_fails_mfa_delete(aws):
    make_bucket(aws)
    result = check(aws, "s3.bucket.mfa-delete")
    assert result.status == Status.FAIL
    assert "versioning is not enabled" in result.reason


def test_mfa_delete_denied_is_error(aws):
    s3 = make_bucket(aws)
    s3.put_bucket_versioning(
        Bucket="the-bucket", VersioningConfiguration={"Status": "Enabled"}
    )
    deny(aws, "s3", "GetBucketVersioning")
    assert check(aws, "s3.bucket.mfa-delete").status == Status.ERROR


# -- s3.bucket.access-logging -------------------------------------------------


def test_access_logging_on_passes(aws):
    s3 = make_bucket(aws)
    make_bucket(aws, "log-sink")
    s3.put_bucket_acl(Bucket="log-sink", ACL="log-delivery-write")
    s3.put_bucket_logging(
        Bucket="the-bucket",
        BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": "log-sink", "TargetPrefix": "the/"}
        },
    )
    result = check(aws, "s3.bucket.access-logging")
    assert result.status == Status.PASS
    assert "s3://log-sink/the/" in result.reason


def test_access_logging_off_fails(aws):
    make_bucket(aws)
    result = check(aws, "s3.bucket.access-logging")
    assert result.status == Status.FAIL
    assert result.reason == "server access logging is off"


def test_log_bucket_tagged_as_target_is_not_applicable(aws):
    s3 = make_bucket(aws, "log-sink")
    s3.put_bucket_tagging(
        Bucket="log-sink", Tagging={"TagSet": [{"Key": "log-target", "Value": "true"}]}
    )
    result = check(aws, "s3.bucket.access-logging", "log-sink")
    assert result.status == Status.NOT_APPLICABLE


def test_access_logging_denied_is_error(aws):
    make_bucket(aws)
    deny(aws, "s3", "GetBucketLogging")
    assert check(aws, "s3.bucket.access-logging").status == Status.ERROR


def test_logging_off_with_tags_unreadable_is_error(aws):
    s3 = make_bucket(aws)
    s3.put_bucket_tagging(
        Bucket="the-bucket",
        Tagging={"TagSet": [{"Key": "log-target", "Value": "true"}]},
    )
    deny(aws, "s3", "GetBucketTagging")
    assert check(aws, "s3.bucket.access-logging").status == Status.ERROR


# -- s3.bucket.cors-no-wildcard-write -----------------------------------------


def put_cors(s3, *rules) -> None:
    s3.put_bucket_cors(
        Bucket="the-bucket", CORSConfiguration={"CORSRules": list(rules)}
    )


def test_no_cors_passes(aws):
    make_bucket(aws)
    assert check(aws, "s3.bucket.cors-no-wildcard-write").status == Status.PASS


def test_cors_any_origin_read_only_passes(aws):
    s3 = make_bucket(aws)
    put_cors(s3, {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD"]})
    assert check(aws, "s3.bucket.cors-no-wildcard-write").status == Status.PASS


def test_cors_named_origin_may_write(aws):
    s3 = make_bucket(aws)
    put_cors(
        s3,
        {"AllowedOrigins": ["https://app.example.com"], "AllowedMethods": ["PUT"]},
    )
    assert check(aws, "s3.bucket.cors-no-wildcard-write").status == Status.PASS


def test_cors_any_origin_write_fails(aws):
    s3 = make_bucket(aws)
    put_cors(
        s3,
        {"AllowedOrigins": ["https://app.example.com"], "AllowedMethods": ["GET"]},
        {"ID": "uploads", "AllowedOrigins": ["*"], "AllowedMethods": ["PUT", "DELETE"]},
    )
    result = check(aws, "s3.bucket.cors-no-wildcard-write")
    assert result.status == Status.FAIL
    assert result.reason == "CORS rule uploads lets origin * PUT, DELETE"


def test_cors_denied_is_error(aws):
    make_bucket(aws)
    deny(aws, "s3", "GetBucketCors")
    assert check(aws, "s3.bucket.cors-no-wildcard-write").status == Status.ERROR


# -- s3.bucket.object-lock-where-required -------------------------------------


def tag_worm(s3, bucket: str = "the-bucket") -> None:
    s3.put_bucket_tagging(
        Bucket=bucket,
        Tagging={"TagSet": [{"Key": "data-retention", "Value": "worm"}]},
    )


def test_untagged_bucket_is_not_applicable(aws):
    make_bucket(aws)
    result = check(aws, "s3.bucket.object-lock-where-required")
    assert result.status == Status.NOT_APPLICABLE


def test_worm_bucket_with_default_retention_passes(aws):
    s3 = make_bucket(aws, ObjectLockEnabledForBucket=True)
    tag_worm(s3)
    s3.put_object_lock_configuration(
        Bucket="the-bucket",
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 365}},
        },
    )
    result = check(aws, "s3.bucket.object-lock-where-required")
    assert result.status == Status.PASS
    assert "COMPLIANCE 365 days" in result.reason


def test_worm_bucket_without_object_lock_fails(aws):
    s3 = make_bucket(aws)
    tag_worm(s3)
    result = check(aws, "s3.bucket.object-lock-where-required")
    assert result.status == Status.FAIL
    assert "Object Lock is not enabled" in result.reason


def test_worm_bucket_without_default_retention_fails(aws):
    s3 = make_bucket(aws, ObjectLockEnabledForBucket=True)
    tag_worm(s3)
    result = check(aws, "s3.bucket.object-lock-where-required")
    assert result.status == Status.FAIL
    assert "no default retention" in result.reason


def test_object_lock_denied_is_error(aws):
    s3 = make_bucket(aws, ObjectLockEnabledForBucket=True)
    tag_worm(s3)
    deny(aws, "s3", "GetObjectLockConfiguration")
    assert check(aws, "s3.bucket.object-lock-where-required").status == Status.ERROR


def test_tags_denied_is_error_not_not_applicable(aws):
    s3 = make_bucket(aws)
    tag_worm(s3)
    deny(aws, "s3", "GetBucketTagging")
    assert check(aws, "s3.bucket.object-lock-where-required").status == Status.ERROR
