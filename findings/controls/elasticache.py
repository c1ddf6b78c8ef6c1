"""Amazon ElastiCache controls: network placement, encryption, AUTH, recovery.

The whitepaper's ElastiCache notes: managed in-memory cache clusters that use
security groups. Replication groups are Redis OSS or Valkey; Memcached runs
as standalone cache clusters.
"""

from findings.controls.base import (
    Context,
    ResourceView,
    Result,
    Severity,
    control,
    failed,
    not_applicable,
    passed,
)

SECTION = "service/database/elasticache"
CACHE_CLUSTER = "AWS::ElastiCache::CacheCluster"
REPLICATION_GROUP = "AWS::ElastiCache::ReplicationGroup"
DEFAULT_SUBNET_GROUP = "default"
AUTH_ENGINES = frozenset({"redis", "valkey"})


@control(
    id="elasticache.custom-subnet-group",
    title="Clusters use a non-default (VPC) subnet group",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=CACHE_CLUSTER,
    rationale=(
        "A cache cluster's subnet group decides which subnets, and so which "
        "routes to the internet, its nodes get. The default group spans the "
        "default VPC's public subnets; a chosen group keeps the cache in "
        "private subnets."
    ),
    remediation=(
        "ElastiCache console → Subnet groups → Create subnet group with the "
        "VPC's private subnets; then create the cluster (or restore a backup "
        "of it) in that subnet group and move clients to it — a running "
        "cluster's subnet group cannot be changed."
    ),
    remediation_cli=(
        "aws elasticache create-cache-subnet-group --cache-subnet-group-name "
        "<name> --cache-subnet-group-description <text> --subnet-ids <subnet-ids>"
    ),
    security_hub=("ElastiCache.7",),
)
def custom_subnet_group(r: ResourceView, ctx: Context) -> Result:
    group = r.config.get("CacheSubnetGroupName")
    if not group:
        return failed("cluster has no cache subnet group (not placed in a VPC)")
    if group == DEFAULT_SUBNET_GROUP:
        return failed("cluster uses the default cache subnet group")
    return passed(f"cluster uses cache subnet group {group}")


@control(
    id="elasticache.at-rest-encryption",
    title="Replication groups are encrypted at rest",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=REPLICATION_GROUP,
    rationale=(
        "Sensitive data should be encrypted. At-rest encryption protects the "
        "data ElastiCache writes to disk during synchronisation, swap and "
        "backups to S3."
    ),
    remediation=(
        "ElastiCache console → create a backup of the replication group → "
        "Restore it into a new replication group with Encryption at rest "
        "turned on (choose a KMS key) → move clients to it and delete the old "
        "group."
    ),
    remediation_cli=(
        "aws elasticache create-replication-group --replication-group-id <new> "
        "--replication-group-description <text> --snapshot-name <backup> "
        "--at-rest-encryption-enabled"
    ),
    security_hub=("ElastiCache.4",),
)
def at_rest_encryption(r: ResourceView, ctx: Context) -> Result:
    if r.config.get("AtRestEncryptionEnabled") is True:
        key = r.config.get("KmsKeyId")
        return passed(
            "encrypted at rest" + (f" with {key}" if key else " (AWS owned key)")
        )
    return failed("not encrypted at rest (AtRestEncryptionEnabled false)")


@control(
    id="elasticache.transit-encryption",
    title="Replication groups and Memcached clusters encrypt in transit",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=REPLICATION_GROUP,
    rationale=(
        "Connections should use TLS. Without in-transit encryption, cached "
        "data and AUTH passwords cross the network in plain text between "
        "clients and nodes and between the nodes themselves."
    ),
    remediation=(
        "ElastiCache console → select the replication group → Modify → "
        "Encryption in transit: Enable, Transit encryption mode: Preferred → "
        "apply; once every client connects with TLS, modify again to Required."
    ),
    remediation_cli=(
        "aws elasticache modify-replication-group --replication-group-id <id> "
        "--transit-encryption-enabled --transit-encryption-mode required "
        "--apply-immediately"
    ),
    security_hub=("ElastiCache.5",),
)
def transit_encryption(r: ResourceView, ctx: Context) -> Result:
    if r.config.get("TransitEncryptionEnabled") is not True:
        return failed("not encrypted in transit (TransitEncryptionEnabled false)")
    mode = r.config.get("TransitEncryptionMode")
    if mode is not None and mode != "required":
        return failed(
            f"TransitEncryptionMode is {mode}: plain-text connections are still "
            "accepted"
        )
    return passed("TLS is required for every connection")


@control(
    id="elasticache.auth-enabled",
    title="Redis/Valkey groups require AUTH or RBAC",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=REPLICATION_GROUP,
    rationale=(
        "Without an AUTH token or role-based access control, any client that "
        "can reach the nodes on the network can read and change every key."
    ),
    remediation=(
        "ElastiCache console → User group management → create users and a user "
        "group → select the replication group → Modify → Access control: User "
        "group access control list → choose the group → apply (or set an AUTH "
        "token with in-transit encryption on)."
    ),
    remediation_cli=(
        "aws elasticache modify-replication-group --replication-group-id <id> "
        "--user-group-ids-to-add <user-group-id> --apply-immediately"
    ),
    security_hub=("ElastiCache.6",),
)
def auth_enabled(r: ResourceView, ctx: Context) -> Result:
    # Older answers have no Engine field: replication groups were Redis only.
    engine = str(r.config.get("Engine") or "redis").lower()
    if engine not in AUTH_ENGINES:
        return not_applicable(f"engine {engine} has no AUTH or RBAC")
    user_groups = r.config.get("UserGroupIds") or []
    if user_groups:
        return passed(f"role-based access control with {', '.join(user_groups)}")
    if r.config.get("AuthTokenEnabled") is True:
        return passed("clients must present the AUTH token")
    return failed(
        "no AUTH token and no RBAC user group: any client that reaches the "
        "nodes gets full access"
    )


@control(
    id="elasticache.backups",
    title="Redis/Valkey automatic backups are on",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=REPLICATION_GROUP,
    rationale=(
        "Automatic backups keep a daily copy of the cache's data, so a group "
        "lost to a failure or a mistake can be restored with its data."
    ),
    remediation=(
        "ElastiCache console → select the replication group → Modify → Backup "
        "→ Enable automatic backups, retention period 1 day or more → apply."
    ),
    remediation_cli=(
        "aws elasticache modify-replication-group --replication-group-id <id> "
        "--snapshot-retention-limit 7 --apply-immediately"
    ),
    security_hub=("ElastiCache.1",),
)
def backups(r: ResourceView, ctx: Context) -> Result:
    days = r.config.get("SnapshotRetentionLimit") or 0
    if days >= 1:
        return passed(f"automatic backups are kept for {days} day(s)")
    return failed("automatic backups are off (SnapshotRetentionLimit 0)")


@control(
    id="elasticache.multi-az-failover",
    title="Replication groups have Multi-AZ automatic failover",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=REPLICATION_GROUP,
    rationale=(
        "With Multi-AZ and automatic failover, a replica in another "
        "Availability Zone is promoted when the primary or its AZ fails, "
        "instead of the cache being unavailable until it is replaced."
    ),
    remediation=(
        "ElastiCache console → select the replication group → add a replica in "
        "another AZ if it has none → Modify → Multi-AZ: Enable (this also "
        "turns on Auto-failover) → apply."
    ),
    remediation_cli=(
        "aws elasticache modify-replication-group --replication-group-id <id> "
        "--automatic-failover-enabled --multi-az-enabled --apply-immediately"
    ),
    security_hub=("ElastiCache.3",),
)
def multi_az_failover(r: ResourceView, ctx: Context) -> Result:
    failover = r.config.get("AutomaticFailover") or "disabled"
    multi_az = r.config.get("MultiAZ") or "disabled"
    if failover == "enabled" and multi_az == "enabled":
        return passed("Multi-AZ with automatic failover is on")
    return failed(f"AutomaticFailover is {failover} and MultiAZ is {multi_az}")
