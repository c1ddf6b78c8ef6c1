"""Amazon DynamoDB and DAX controls: recovery, encryption, deletion protection.

The whitepaper's DynamoDB notes: access is through IAM and AWS manages the
platform; what the customer still chooses is how tables are recovered,
which key encrypts them, and whether they can be deleted in one call.
"""

from findings.controls.base import (
    Context,
    NotEvaluable,
    ResourceView,
    Result,
    Severity,
    control,
    failed,
    passed,
)

SECTION = "service/database/dynamodb"
TABLE = "AWS::DynamoDB::Table"
DAX_CLUSTER = "AWS::DAX::Cluster"


def _table(r: ResourceView) -> dict:
    table = r.field("Table")
    if table is None:
        raise NotEvaluable("DescribeTable answer missing from the collected table")
    return table


@control(
    id="dynamodb.table.pitr",
    title="Tables have point-in-time recovery",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=TABLE,
    rationale=(
        "Point-in-time recovery keeps continuous backups of a table, so it can "
        "be restored to any second of the recovery period after an accidental "
        "write or delete."
    ),
    remediation=(
        "DynamoDB console → Tables → select the table → Backups → "
        "Point-in-time recovery (PITR) → Edit → Turn on point-in-time recovery "
        "→ Save changes."
    ),
    remediation_cli=(
        "aws dynamodb update-continuous-backups --table-name <table> "
        "--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true"
    ),
    security_hub=("DynamoDB.2",),
)
def table_pitr(r: ResourceView, ctx: Context) -> Result:
    backups = r.field("ContinuousBackupsDescription")
    if backups is None:
        raise NotEvaluable("continuous backups missing from the collected table")
    pitr = backups.get("PointInTimeRecoveryDescription") or {}
    status = pitr.get("PointInTimeRecoveryStatus") or "DISABLED"
    if status == "ENABLED":
        days = pitr.get("RecoveryPeriodInDays")
        period = f" ({days}-day recovery period)" if days else ""
        return passed(f"point-in-time recovery is on{period}")
    return failed(f"point-in-time recovery is {status.lower()}")


@control(
    id="dynamodb.table.kms-encryption",
    title="Tables are encrypted with a KMS key",
    section=SECTION,
    severity=Severity.LOW,
    resource_type=TABLE,
    rationale=(
        "Every table is encrypted at rest, by default with a key AWS owns that "
        "the account cannot see or audit. A KMS key (AWS managed or customer "
        "managed) puts every use of the key in CloudTrail and lets access to "
        "the data be revoked through the key."
    ),
    remediation=(
        "DynamoDB console → Tables → select the table → Additional settings → "
        "Encryption → Manage encryption → AWS managed key or a customer "
        "managed key stored in your account → Save changes."
    ),
    remediation_cli=(
        "aws dynamodb update-table --table-name <table> --sse-specification "
        "Enabled=true,SSEType=KMS,KMSMasterKeyId=<key>"
    ),
)
def table_kms_encryption(r: ResourceView, ctx: Context) -> Result:
    sse = _table(r).get("SSEDescription")
    if not sse:
        return failed("encrypted only with the AWS owned key (no KMS key)")
    sse_type, status = sse.get("SSEType"), sse.get("Status")
    if sse_type == "KMS" and status == "ENABLED":
        key = sse.get("KMSMasterKeyArn") or "a KMS key"
        return passed(f"encrypted with {key}")
    return failed(f"server-side encryption is {sse_type or '-'} with status {status}")


@control(
    id="dynamodb.table.deletion-protection",
    title="Tables have deletion protection",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=TABLE,
    rationale=(
        "Deletion protection makes DeleteTable fail until the setting is "
        "turned off, so one mistaken or malicious call cannot remove a table "
        "and its data."
    ),
    remediation=(
        "DynamoDB console → Tables → select the table → Additional settings → "
        "Deletion protection → Turn on."
    ),
    remediation_cli=(
        "aws dynamodb update-table --table-name <table> --deletion-protection-enabled"
    ),
    security_hub=("DynamoDB.6",),
)
def table_deletion_protection(r: ResourceView, ctx: Context) -> Result:
    if _table(r).get("DeletionProtectionEnabled") is True:
        return passed("deletion protection is on")
    return failed("table can be deleted in one call (DeletionProtectionEnabled false)")


@control(
    id="dax.cluster.encrypted",
    title="DAX clusters encrypt at rest and in transit",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=DAX_CLUSTER,
    rationale=(
        "A DAX cluster caches table items in memory and on disk. Without "
        "encryption at rest the cached data sits unencrypted on the nodes, and "
        "without TLS on the cluster endpoint it crosses the network in plain "
        "text."
    ),
    remediation=(
        "Both settings are fixed at creation: DAX console → Create cluster → "
        "turn on Encryption at rest and choose TLS for encryption in transit → "
        "move clients to the new cluster's endpoint (daxs://) and delete the "
        "old cluster."
    ),
    remediation_cli=(
        "aws dax create-cluster --cluster-name <name> --node-type <type> "
        "--replication-factor 3 --iam-role-arn <role-arn> "
        "--sse-specification Enabled=true --cluster-endpoint-encryption-type TLS"
    ),
    security_hub=("DynamoDB.3", "DynamoDB.7"),
)
def dax_cluster_encrypted(r: ResourceView, ctx: Context) -> Result:
    problems = []
    at_rest = (r.config.get("SSEDescription") or {}).get("Status") or "DISABLED"
    if at_rest != "ENABLED":
        problems.append(f"encryption at rest is {at_rest.lower()}")
    in_transit = r.config.get("ClusterEndpointEncryptionType") or "NONE"
    if in_transit != "TLS":
        problems.append(f"cluster endpoint encryption is {in_transit}")
    if problems:
        return failed("; ".join(problems))
    return passed("encrypted at rest and TLS on the cluster endpoint")
