"""Amazon SQS controls: encryption at rest and queue policies.

The whitepaper's SQS notes: access is granted through IAM and SSL endpoints.
Its "data stored in SQS is not encrypted" is out of date: SSE-SQS and SSE-KMS
now encrypt messages at rest.
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
from findings.controls.policy import describe_public_grant, public_statements

SECTION = "service/app-integration/sqs"
QUEUE = "AWS::SQS::Queue"


@control(
    id="sqs.queue.sse",
    title="Queues are encrypted at rest",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=QUEUE,
    rationale=(
        "All data can and should be encrypted. Server-side encryption keeps "
        "messages encrypted while they wait in the queue, with a key SQS manages "
        "(SSE-SQS) or a KMS key whose policy and audit trail the customer controls "
        "(SSE-KMS)."
    ),
    remediation=(
        "SQS console → Queues → choose the queue → Edit → Encryption → "
        "Server-side encryption: Enabled → choose Amazon SQS key (SSE-SQS) or "
        "AWS Key Management Service key (SSE-KMS) → Save."
    ),
    remediation_cli=(
        "aws sqs set-queue-attributes --queue-url <queue-url> "
        "--attributes SqsManagedSseEnabled=true"
    ),
    security_hub=("SQS.1",),
)
def queue_sse(r: ResourceView, ctx: Context) -> Result:
    attributes = r.field("Attributes") or {}
    key = attributes.get("KmsMasterKeyId")
    if key:
        return passed(f"encrypted with SSE-KMS (key {key})")
    if str(attributes.get("SqsManagedSseEnabled", "")).lower() == "true":
        return passed("encrypted with SSE-SQS (SqsManagedSseEnabled = true)")
    return failed(
        "server-side encryption is off: no KmsMasterKeyId and "
        "SqsManagedSseEnabled is not true"
    )


@control(
    id="sqs.queue.no-public-policy",
    title="Queue policies are not public",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=QUEUE,
    rationale=(
        "Access to queues is meant to be granted through IAM. A queue policy "
        "that allows any principal lets anyone on the internet who learns the "
        "queue URL send, read or delete its messages."
    ),
    remediation=(
        "SQS console → Queues → choose the queue → Access policy → Edit → "
        'replace Principal "*" with the accounts or roles that need access, or '
        "add a condition such as aws:SourceArn, aws:SourceAccount or "
        "aws:PrincipalOrgID → Save."
    ),
    remediation_cli=(
        "aws sqs set-queue-attributes --queue-url <queue-url> "
        "--attributes file://queue-policy.json"
    ),
    security_hub=("SQS.3",),
)
def queue_no_public_policy(r: ResourceView, ctx: Context) -> Result:
    # A failed GetQueueAttributes leaves the policy unknown: ERROR, not PASS.
    r.field("Attributes")
    policy = r.field("Policy")
    if policy is None:
        return passed("queue has no access policy: only IAM grants access")
    public = public_statements(policy)
    if public:
        reasons = [describe_public_grant(policy, s, "queue policy") for s in public]
        return failed("; ".join(reasons))
    return passed("no queue policy statement allows everyone without a condition")
