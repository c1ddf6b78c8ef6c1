"""CloudTrail controls (whitepaper: Security logs: CloudTrail).

Three kinds of check live here:

- per-trail settings (log file validation, KMS, CloudWatch Logs), evaluated
  on each ``AWS::CloudTrail::Trail`` in the account that owns it;
- the trail's S3 bucket (access logging, not public), evaluated on the trail
  with a lookup of its bucket among this account's ``AWS::S3::Bucket``s;
- account-wide conditions ("a logging multi-region trail does X"), evaluated
  on ``AWS::CloudTrail::RegionCoverage``, one per region, so that an account
  with no trail at all still gets a FAIL in every region.
"""

import re
from collections.abc import Callable
from typing import Any

from findings.controls.base import (
    Context,
    NotEvaluable,
    ResourceView,
    Result,
    Severity,
    control,
    failed,
    not_applicable,
    passed,
)
from findings.controls.policy import (
    PUBLIC_ACCESS_BLOCK_FLAGS,
    PUBLIC_GROUPS,
    as_list,
    public_statements,
)

SECTION = "account-security/security-logs/cloudtrail"
TRAIL = "AWS::CloudTrail::Trail"
REGION_COVERAGE = "AWS::CloudTrail::RegionCoverage"
BUCKET = "AWS::S3::Bucket"

# The DataResources value (basic selectors) or resources.ARN prefix (advanced)
# that means "every S3 object in every bucket", in any partition.
ALL_BUCKETS = re.compile(r"arn:aws[a-z-]*:s3(:::)?/?")
READ_WRITE_KINDS = {
    "All": ("read", "write"),
    "ReadOnly": ("read",),
    "WriteOnly": ("write",),
}
# Advanced field selectors that do not narrow which S3 object events match.
S3_SELECTOR_FIELDS = {"eventCategory", "resources.type", "resources.ARN", "readOnly"}


# -- helpers ----------------------------------------------------------------


def _owner(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def _foreign_trail(r: ResourceView) -> Result | None:
    """N/A for a trail another account owns (an organization trail).

    Member accounts see the management account's organization trail; its
    settings are that account's to fix and are evaluated there, once.
    """
    owner = _owner(r.arn or r.resource_id)
    if owner and owner != r.account_id:
        return not_applicable(
            f"trail {r.label} is owned by account {owner} (organization trail); "
            "it is evaluated in that account"
        )
    return None


def _status(trail: ResourceView) -> dict:
    status = trail.field("Status")
    if status is None:
        raise NotEvaluable(f"trail {trail.label}: status was not collected")
    return status


def _selectors(trail: ResourceView) -> tuple[list[dict], list[dict]]:
    selectors = trail.field("EventSelectors")
    if selectors is None:
        raise NotEvaluable(f"trail {trail.label}: event selectors were not collected")
    return (
        selectors.get("EventSelectors") or [],
        selectors.get("AdvancedEventSelectors") or [],
    )


def _fields(selector: dict) -> dict[str, dict]:
    return {f.get("Field", ""): f for f in selector.get("FieldSelectors", [])}


def _management_events(trail: ResourceView) -> tuple[bool, str]:
    """Whether the trail logs all read and write management events, and why."""
    basic, advanced = _selectors(trail)
    if not basic and not advanced:
        # AWS documents that a trail created without event selectors logs all
        # read and write management events (and no data events). AWS returns
        # that default as an explicit selector; moto returns nothing.
        return True, (
            "is logging all management events (no event selectors: CloudTrail's "
            "default logs all read and write management events)"
        )
    partial = []
    for selector in basic:
        if not selector.get("IncludeManagementEvents", True):
            continue
        read_write = selector.get("ReadWriteType", "All")
        if read_write == "All":
            return True, "is logging all read and write management events"
        partial.append(f"{read_write} management events")
    for selector in advanced:
        fields = _fields(selector)
        if "Management" not in fields.get("eventCategory", {}).get("Equals", []):
            continue
        if "readOnly" in fields:
            name = selector.get("Name") or "advanced selector"
            partial.append(f"read-only or write-only management events ({name})")
            continue
        return True, "is logging all management events (advanced event selector)"
    if partial:
        return False, f"logs only {', '.join(partial)}"
    return False, "logs no management events"


def _s3_object_events(trail: ResourceView) -> set[str]:
    """Which S3 object-level events ("read", "write") the trail logs for
    every bucket."""
    basic, advanced = _selectors(trail)
    kinds: set[str] = set()
    for selector in basic:
        for resource in selector.get("DataResources", []):
            if resource.get("Type") != "AWS::S3::Object":
                continue
            if any(ALL_BUCKETS.fullmatch(v) for v in resource.get("Values", [])):
                kinds |= _read_write_kinds(selector.get("ReadWriteType", "All"))
    for selector in advanced:
        fields = _fields(selector)
        if "Data" not in fields.get("eventCategory", {}).get("Equals", []):
            continue
        if "AWS::S3::Object" not in fields.get("resources.type", {}).get("Equals", []):
            continue
        if set(fields) - S3_SELECTOR_FIELDS:
            continue  # narrowed by event name, identity, ...: not all objects
        if "resources.ARN" in fields and not _covers_all_buckets(
            fields["resources.ARN"]
        ):
            continue
        kinds |= _advanced_read_write_kinds(fields.get("readOnly"))
    return kinds


def _read_write_kinds(read_write: str) -> set[str]:
    return set(READ_WRITE_KINDS.get(read_write, ()))


def _covers_all_buckets(field: dict) -> bool:
    operators = {k for k, v in field.items() if k != "Field" and v}
    return operators == {"StartsWith"} and any(
        ALL_BUCKETS.fullmatch(v) for v in field["StartsWith"]
    )


def _advanced_read_write_kinds(read_only: dict | None) -> set[str]:
    if not read_only:
        return {"read", "write"}
    equals = [v.lower() for v in read_only.get("Equals", [])]
    not_equals = [v.lower() for v in read_only.get("NotEquals", [])]
    if equals == ["true"] or not_equals == ["false"]:
        return {"read"}
    if equals == ["false"] or not_equals == ["true"]:
        return {"write"}
    return {"read", "write"}


def _trail_view(summary: dict, ctx: Context) -> ResourceView:
    """The full record of a trail listed in a region's coverage.

    A trail is stored once, by the unit of its home region; if that region
    was not scanned or not collected, the trail is unknown, not absent.
    """
    arn = summary.get("TrailARN", "")
    label = summary.get("Name") or arn
    home = summary.get("HomeRegion", "")
    if home not in ctx.regions:
        raise NotEvaluable(f"trail {label} lives in {home}, which this scan skips")
    for trail in ctx.resources(TRAIL, region=home):
        if trail.resource_id == arn:
            return trail
    raise NotEvaluable(f"trail {label} was not collected in {home}")


def _multi_region_trail_result(
    r: ResourceView,
    ctx: Context,
    condition: Callable[[ResourceView], tuple[bool, str]],
) -> Result:
    """PASS when one multi-region trail covering the region meets ``condition``.

    A trail that cannot be read may be the one that passes, so it makes the
    result ERROR (unless another trail passes), never FAIL or PASS.
    """
    trails = r.config.get("Trails", [])
    multi = [t for t in trails if t.get("IsMultiRegionTrail")]
    if not multi:
        singles = ", ".join(t.get("Name", "") for t in trails)
        extra = f" (single-region trails only: {singles})" if singles else ""
        return failed(f"no multi-region trail covers {r.region}{extra}")
    failures: list[str] = []
    unknown: list[str] = []
    for summary in multi:
        try:
            trail = _trail_view(summary, ctx)
            if not _status(trail).get("IsLogging"):
                failures.append(f"multi-region trail {trail.label} is not logging")
                continue
            ok, detail = condition(trail)
        except NotEvaluable as exc:
            unknown.append(str(exc))
            continue
        if ok:
            return passed(f"multi-region trail {trail.label} {detail}")
        failures.append(f"multi-region trail {trail.label} {detail}")
    if unknown:
        raise NotEvaluable("; ".join(unknown))
    return failed("; ".join(failures))


def _s3_condition(kind: str) -> Callable[[ResourceView], tuple[bool, str]]:
    def condition(trail: ResourceView) -> tuple[bool, str]:
        kinds = _s3_object_events(trail)
        if kind in kinds:
            return True, f"is logging S3 object-level {kind} events for all buckets"
        if kinds:
            (other,) = kinds
            return False, (
                f"logs S3 object-level {other} events but not {kind} events "
                "for all buckets"
            )
        return False, "logs no S3 object-level data events for all buckets"

    return condition


def _trail_bucket(r: ResourceView, ctx: Context) -> ResourceView | Result:
    """The trail's bucket among this account's buckets, or an N/A result."""
    name = r.config.get("S3BucketName")
    if not name:
        return not_applicable(f"trail {r.label} names no S3 bucket")
    for bucket in ctx.resources(BUCKET):
        if name in (bucket.resource_id, bucket.name):
            return bucket
    return not_applicable(
        f"trail {r.label} delivers to bucket {name}, which is not one of this "
        "account's buckets (another account's); it is evaluated there"
    )


def _bucket_field(bucket: ResourceView, key: str) -> Any:
    value = bucket.field(key)
    if key not in bucket.config:
        raise NotEvaluable(f"bucket {bucket.label}: {key} was not collected")
    return value


def _public_policy_statements(policy: dict) -> list[str]:
    """The actions of Allow statements open to anyone without a restriction."""
    return [
        ", ".join(map(str, as_list(statement.get("Action", "*"))))
        for statement in public_statements(policy)
    ]


# -- multi-region trail -----------------------------------------------------


@control(
    id="cloudtrail.multi-region-trail",
    title="A multi-region trail is logging all management events",
    section=SECTION,
    severity=Severity.CRITICAL,
    resource_type=REGION_COVERAGE,
    rationale=(
        "CloudTrail records who called which AWS API, when and from where. "
        "Without a logging multi-region trail that captures every read and write "
        "management event, activity in a region nobody watches leaves no record "
        "to investigate."
    ),
    remediation=(
        "CloudTrail console → Trails → Create trail (or open an existing trail). "
        "Enable it for all regions, choose an S3 bucket, and under Management "
        "events select both Read and Write. Make sure the trail's status shows "
        "Logging: ON."
    ),
    remediation_cli=(
        "aws cloudtrail create-trail --name <trail> --s3-bucket-name <bucket> "
        "--is-multi-region-trail && aws cloudtrail start-logging --name <trail>"
    ),
    cis=("3.1", "3.1"),
    security_hub=("CloudTrail.1",),
)
def multi_region_trail(r: ResourceView, ctx: Context) -> Result:
    return _multi_region_trail_result(r, ctx, _management_events)


# -- per-trail settings -----------------------------------------------------


@control(
    id="cloudtrail.log-file-validation",
    title="Trail log file validation is enabled",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=TRAIL,
    rationale=(
        "Log file validation writes signed digest files, so you can prove that "
        "delivered CloudTrail logs were not modified or deleted after the fact."
    ),
    remediation=(
        "CloudTrail console → Trails → select the trail → General details → "
        "Edit → under Additional settings enable Log file validation → Save."
    ),
    remediation_cli=(
        "aws cloudtrail update-trail --name <trail> --enable-log-file-validation"
    ),
    cis=("3.2", "3.2"),
    security_hub=("CloudTrail.4",),
)
def log_file_validation(r: ResourceView, ctx: Context) -> Result:
    if foreign := _foreign_trail(r):
        return foreign
    if r.config.get("LogFileValidationEnabled"):
        return passed(f"trail {r.label} has log file validation enabled")
    return failed(
        f"trail {r.label} has LogFileValidationEnabled=false: no digest files, "
        "so tampering with its logs cannot be detected"
    )


@control(
    id="cloudtrail.cloudwatch-logs",
    title="Trail delivers to CloudWatch Logs",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=TRAIL,
    rationale=(
        "Sending CloudTrail events to CloudWatch Logs allows metric filters and "
        "alarms on sensitive API activity in near real time, instead of finding "
        "it later in S3."
    ),
    remediation=(
        "CloudTrail console → Trails → select the trail → CloudWatch Logs → "
        "Edit → enable, choose or create a log group and an IAM role that "
        "CloudTrail can assume → Save. Then check the trail's CloudWatch Logs "
        "delivery shows no error."
    ),
    remediation_cli=(
        "aws cloudtrail update-trail --name <trail> "
        "--cloud-watch-logs-log-group-arn <log-group-arn> "
        "--cloud-watch-logs-role-arn <role-arn>"
    ),
    security_hub=("CloudTrail.5",),
)
def cloudwatch_logs(r: ResourceView, ctx: Context) -> Result:
    if foreign := _foreign_trail(r):
        return foreign
    group = r.config.get("CloudWatchLogsLogGroupArn")
    if not group:
        return failed(
            f"trail {r.label} does not deliver to CloudWatch Logs "
            "(no CloudWatchLogsLogGroupArn)"
        )
    status = _status(r)
    if status.get("CloudWatchLogsDeliveredWithin24h"):
        return passed(f"trail {r.label} delivered to {group} within the last 24 hours")
    why = []
    if not status.get("IsLogging"):
        why.append("the trail is not logging")
    if error := status.get("LatestCloudWatchLogsDeliveryError"):
        why.append(f"last delivery error: {error}")
    detail = f" ({'; '.join(why)})" if why else ""
    return failed(
        f"trail {r.label} is set to deliver to {group} but has delivered "
        f"nothing in the last 24 hours{detail}"
    )


@control(
    id="cloudtrail.kms-encryption",
    title="Trail logs are encrypted with a KMS key",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=TRAIL,
    rationale=(
        "With SSE-KMS, reading the logs needs kms:Decrypt on a key you control "
        "as well as read access to the bucket, and every use of the key is "
        "itself logged."
    ),
    remediation=(
        "CloudTrail console → Trails → select the trail → General details → "
        "Edit → Log file SSE-KMS encryption: Enabled → choose or create a KMS "
        "key whose policy lets CloudTrail encrypt → Save."
    ),
    remediation_cli="aws cloudtrail update-trail --name <trail> --kms-key-id <key>",
    cis=("3.5", "3.5"),
    security_hub=("CloudTrail.2",),
)
def kms_encryption(r: ResourceView, ctx: Context) -> Result:
    if foreign := _foreign_trail(r):
        return foreign
    if key := r.config.get("KmsKeyId"):
        return passed(f"trail {r.label} encrypts its logs with KMS key {key}")
    return failed(
        f"trail {r.label} has no KmsKeyId: logs use S3-managed encryption only"
    )


# -- the trail's bucket -----------------------------------------------------


@control(
    id="cloudtrail.bucket-access-logging",
    title="CloudTrail bucket has server access logging",
    section=SECTION,
    severity=Severity.LOW,
    resource_type=TRAIL,
    rationale=(
        "Server access logs on the CloudTrail bucket record who read or deleted "
        "the audit logs themselves, which CloudTrail management events do not."
    ),
    remediation=(
        "S3 console → the trail's bucket → Properties → Server access logging → "
        "Edit → Enable, choose a different target bucket → Save."
    ),
    remediation_cli=(
        "aws s3api put-bucket-logging --bucket <trail-bucket> "
        '--bucket-logging-status \'{"LoggingEnabled": {"TargetBucket": '
        '"<log-bucket>", "TargetPrefix": "<trail-bucket>/"}}\''
    ),
    cis=("3.4", "3.4"),
    security_hub=("CloudTrail.7*",),
)
def bucket_access_logging(r: ResourceView, ctx: Context) -> Result:
    bucket = _trail_bucket(r, ctx)
    if isinstance(bucket, Result):
        return bucket
    logging = _bucket_field(bucket, "Logging") or {}
    enabled = logging.get("LoggingEnabled")
    if enabled:
        target = enabled.get("TargetBucket", "")
        prefix = enabled.get("TargetPrefix", "")
        return passed(
            f"trail {r.label}'s bucket {bucket.label} logs access to {target}/{prefix}"
        )
    return failed(
        f"trail {r.label}'s bucket {bucket.label} has server access logging off"
    )


@control(
    id="cloudtrail.bucket-not-public",
    title="CloudTrail bucket is not publicly accessible",
    section=SECTION,
    severity=Severity.CRITICAL,
    resource_type=TRAIL,
    rationale=(
        "CloudTrail logs map the account's resources, identities and activity; "
        "a public log bucket hands that map, and the chance to delete the "
        "evidence, to anyone."
    ),
    remediation=(
        "S3 console → the trail's bucket → Permissions: under Block public "
        "access turn on all four settings; remove bucket policy statements "
        'that allow Principal "*"; under Access control list remove grants to '
        "Everyone and Authenticated users."
    ),
    remediation_cli=(
        "aws s3api put-public-access-block --bucket <trail-bucket> "
        "--public-access-block-configuration BlockPublicAcls=true,"
        "IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true"
    ),
    security_hub=("CloudTrail.6*",),
)
def bucket_not_public(r: ResourceView, ctx: Context) -> Result:
    bucket = _trail_bucket(r, ctx)
    if isinstance(bucket, Result):
        return bucket
    problems: list[str] = []

    block = _bucket_field(bucket, "PublicAccessBlock") or {}
    off = [flag for flag in PUBLIC_ACCESS_BLOCK_FLAGS if not block.get(flag)]
    if len(off) == len(PUBLIC_ACCESS_BLOCK_FLAGS):
        problems.append("no public access block")
    elif off:
        on = len(PUBLIC_ACCESS_BLOCK_FLAGS) - len(off)
        problems.append(f"{on} of 4 public access block flags on: {', '.join(off)} off")

    policy_status = _bucket_field(bucket, "PolicyStatus") or {}
    if policy_status.get("IsPublic") is True:
        problems.append("bucket policy is public (PolicyStatus.IsPublic)")
    elif "IsPublic" not in policy_status:
        # No verdict from AWS (no policy, or a simulator that answers with an
        # empty PolicyStatus): read the policy itself for Principal "*".
        policy = _bucket_field(bucket, "Policy")
        if policy and (actions := _public_policy_statements(policy)):
            problems.append(f"bucket policy allows Principal * on {'; '.join(actions)}")

    acl = _bucket_field(bucket, "Acl") or {}
    for grant in acl.get("Grants", []):
        group = PUBLIC_GROUPS.get(grant.get("Grantee", {}).get("URI", ""))
        if group:
            problems.append(f"ACL grants {grant.get('Permission', '?')} to {group}")

    if problems:
        return failed(f"trail {r.label}'s bucket {bucket.label}: {'; '.join(problems)}")
    return passed(
        f"trail {r.label}'s bucket {bucket.label} blocks all public access, "
        "has no public policy and no public ACL grant"
    )


# -- S3 data events ---------------------------------------------------------


@control(
    id="cloudtrail.s3-object-write-events",
    title="S3 object-level write events are logged",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=REGION_COVERAGE,
    rationale=(
        "Management events do not include object uploads, overwrites or "
        "deletions; without write data events, tampering with S3 data leaves no "
        "trace in CloudTrail."
    ),
    remediation=(
        "CloudTrail console → Trails → select the multi-region trail → Data "
        "events → Edit → add data event type S3, log all current and future "
        "buckets, select Write (or Read and Write) → Save. put-event-selectors "
        "replaces every selector: keep the management-event one."
    ),
    remediation_cli=(
        "aws cloudtrail put-event-selectors --trail-name <trail> "
        "--advanced-event-selectors '["
        '{"Name": "Management", "FieldSelectors": [{"Field": "eventCategory", '
        '"Equals": ["Management"]}]}, '
        '{"Name": "S3 writes", "FieldSelectors": [{"Field": "eventCategory", '
        '"Equals": ["Data"]}, {"Field": "resources.type", '
        '"Equals": ["AWS::S3::Object"]}, {"Field": "readOnly", '
        '"Equals": ["false"]}]}]\''
    ),
    cis=("3.8", "3.8"),
    security_hub=("S3.22*",),
)
def s3_object_write_events(r: ResourceView, ctx: Context) -> Result:
    return _multi_region_trail_result(r, ctx, _s3_condition("write"))


@control(
    id="cloudtrail.s3-object-read-events",
    title="S3 object-level read events are logged",
    section=SECTION,
    severity=Severity.LOW,
    resource_type=REGION_COVERAGE,
    rationale=(
        "Management events do not include object reads; without read data "
        "events there is no record of who downloaded which objects, which an "
        "investigation of data exfiltration needs."
    ),
    remediation=(
        "CloudTrail console → Trails → select the multi-region trail → Data "
        "events → Edit → add data event type S3, log all current and future "
        "buckets, select Read (or Read and Write) → Save. put-event-selectors "
        "replaces every selector: keep the management-event one."
    ),
    remediation_cli=(
        "aws cloudtrail put-event-selectors --trail-name <trail> "
        "--advanced-event-selectors '["
        '{"Name": "Management", "FieldSelectors": [{"Field": "eventCategory", '
        '"Equals": ["Management"]}]}, '
        '{"Name": "S3 reads", "FieldSelectors": [{"Field": "eventCategory", '
        '"Equals": ["Data"]}, {"Field": "resources.type", '
        '"Equals": ["AWS::S3::Object"]}, {"Field": "readOnly", '
        '"Equals": ["true"]}]}]\''
    ),
    cis=("3.9", "3.9"),
    security_hub=("S3.23*",),
)
def s3_object_read_events(r: ResourceView, ctx: Context) -> Result:
    return _multi_region_trail_result(r, ctx, _s3_condition("read"))
