"""Amazon Kinesis Data Streams controls: encryption at rest and retention.

The whitepaper's Kinesis notes say records are available for 24 hours and
then discarded; that is only the default retention, which can be raised.
"""

from findings.controls.base import (
    Context,
    ResourceView,
    Result,
    Severity,
    control,
    failed,
    passed,
)

SECTION = "service/analytics/kinesis"
STREAM = "AWS::Kinesis::Stream"

MIN_RETENTION_HOURS = 168  # 7 days


def _summary(r: ResourceView) -> dict:
    return r.field("StreamDescriptionSummary") or {}


@control(
    id="kinesis.stream.sse",
    title="Kinesis streams are encrypted at rest",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=STREAM,
    rationale=(
        "All data can and should be encrypted. Server-side encryption with a "
        "KMS key encrypts records before they are written to the stream's "
        "storage, under a key whose policy and audit trail the customer controls."
    ),
    remediation=(
        "Kinesis console → Data streams → choose the stream → Configuration → "
        "Encryption → Edit → Enable server-side encryption → choose "
        "aws/kinesis or a customer managed key → Save changes."
    ),
    remediation_cli=(
        "aws kinesis start-stream-encryption --stream-name <stream> "
        "--encryption-type KMS --key-id alias/aws/kinesis"
    ),
    security_hub=("Kinesis.1",),
)
def stream_sse(r: ResourceView, ctx: Context) -> Result:
    summary = _summary(r)
    encryption = summary.get("EncryptionType") or "NONE"
    if encryption == "KMS":
        return passed(f"encrypted with KMS key {summary.get('KeyId', '(unnamed)')}")
    return failed(f"server-side encryption is {encryption}")


@control(
    id="kinesis.stream.retention-7d",
    title="Kinesis streams retain data 7+ days",
    section=SECTION,
    severity=Severity.LOW,
    resource_type=STREAM,
    rationale=(
        "Records are discarded after the retention period, 24 hours by default. "
        "Keeping them at least 7 days leaves time to replay data after a "
        "consumer failure or to investigate an incident."
    ),
    remediation=(
        "Kinesis console → Data streams → choose the stream → Configuration → "
        "Data retention period → Edit → 7 days (168 hours) or more → Save "
        "changes."
    ),
    remediation_cli=(
        "aws kinesis increase-stream-retention-period --stream-name <stream> "
        "--retention-period-hours 168"
    ),
    security_hub=("Kinesis.3",),
)
def stream_retention(r: ResourceView, ctx: Context) -> Result:
    hours = _summary(r).get("RetentionPeriodHours")
    if hours is None:
        return failed("retention period not reported: AWS's default is 24 hours")
    days = f"{hours / 24:g} day{'' if hours == 24 else 's'}"
    if hours >= MIN_RETENTION_HOURS:
        return passed(f"retention is {hours} hours ({days})")
    return failed(f"retention is {hours} hours ({days}), under 168 hours (7 days)")
