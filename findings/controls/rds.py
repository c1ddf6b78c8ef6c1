"""Amazon RDS controls: encryption, exposure, availability, backups, access, logs.

The whitepaper's RDS notes: DB security groups act as a firewall, run inside
a VPC, encrypt data and connections, keep automated backups and snapshots,
and use Multi-AZ primary/standby deployments.

Findings are per DB instance. For a cluster member (Aurora, Multi-AZ DB
cluster) the settings that belong to the cluster are read from its
``AWS::RDS::DBCluster`` record, and the reason names the cluster.
"""

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

SECTION = "service/database/rds"
DB_INSTANCE = "AWS::RDS::DBInstance"
DB_CLUSTER = "AWS::RDS::DBCluster"
DB_SNAPSHOT = "AWS::RDS::DBSnapshot"
DB_PARAMETER_GROUP = "AWS::RDS::DBParameterGroup"
SECURITY_GROUP = "AWS::EC2::SecurityGroup"

MIN_BACKUP_RETENTION_DAYS = 7
ANY_IPV4 = "0.0.0.0/0"
ANY_IPV6 = "::/0"
MAX_LISTED = 5

# Log types each engine family must publish: its error log and, where the
# engine has one, its audit log (PostgreSQL writes both to "postgresql").
REQUIRED_LOG_TYPES = {
    "postgresql": ("postgresql",),
    "mysql": ("audit", "error"),
    "mariadb": ("audit", "error"),
    "oracle": ("alert", "audit"),
    "sqlserver": ("error",),
    "db2": ("diag.log",),
}
IAM_AUTH_FAMILIES = frozenset({"postgresql", "mysql", "mariadb"})
# The parameter that forces TLS in each engine family that has one.
TLS_PARAMETER = {
    "postgresql": "rds.force_ssl",
    "sqlserver": "rds.force_ssl",
    "mysql": "require_secure_transport",
    "mariadb": "require_secure_transport",
}
TLS_ON_VALUES = frozenset({"1", "on"})


def engine_family(engine: str) -> str:
    """postgresql, mysql, mariadb, oracle, sqlserver, db2 or custom (RDS Custom)."""
    engine = engine.lower()
    if engine.startswith("custom-"):
        return "custom"
    if engine in ("postgres", "aurora-postgresql"):
        return "postgresql"
    if engine in ("mysql", "aurora", "aurora-mysql"):
        return "mysql"
    for family in ("oracle", "sqlserver", "db2"):
        if engine.startswith(family):
            return family
    return engine


def _settings(r: ResourceView, ctx: Context) -> tuple[dict, str]:
    """(config holding the cluster-level settings, who they belong to)."""
    cluster_id = r.config.get("DBClusterIdentifier")
    if not cluster_id:
        return r.config, "instance"
    for cluster in ctx.resources(DB_CLUSTER, r.region):
        if cluster.resource_id == cluster_id:
            return cluster.config, f"cluster {cluster_id}"
    raise NotEvaluable(f"cluster {cluster_id} of this instance was not collected")


# -- encryption and exposure --------------------------------------------------


@control(
    id="rds.storage-encrypted",
    title="DB instances and clusters are encrypted at rest",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=DB_INSTANCE,
    rationale=(
        "Sensitive data should be encrypted. RDS encryption at rest covers the "
        "storage, automated backups, read replicas and snapshots, and can only "
        "be chosen when the database is created."
    ),
    remediation=(
        "RDS console → Snapshots → take a snapshot of the database → Actions → "
        "Copy snapshot → Enable encryption with a KMS key → restore the "
        "encrypted copy as a new instance or cluster, move clients to it and "
        "delete the unencrypted one."
    ),
    remediation_cli=(
        "aws rds copy-db-snapshot --source-db-snapshot-identifier <snapshot> "
        "--target-db-snapshot-identifier <snapshot>-encrypted --kms-key-id <key>"
    ),
    cis=("2.3.1", "2.2.1"),
    security_hub=("RDS.3", "RDS.27"),
)
def storage_encrypted(r: ResourceView, ctx: Context) -> Result:
    config, owner = _settings(r, ctx)
    if config.get("StorageEncrypted") is True:
        key = config.get("KmsKeyId") or "the default RDS key"
        return passed(f"{owner} storage is encrypted with {key}")
    return failed(
        f"{owner} storage is not encrypted (StorageEncrypted false): data, "
        "backups and snapshots are stored in plain text"
    )


@control(
    id="rds.not-public",
    title="DB instances are not publicly accessible",
    section=SECTION,
    severity=Severity.CRITICAL,
    resource_type=DB_INSTANCE,
    rationale=(
        "A publicly accessible DB instance gets a DNS name that resolves to a "
        "public IP address, so only its security groups stand between the "
        "database and the internet. Databases belong in private subnets of a VPC."
    ),
    remediation=(
        "RDS console → Databases → select the instance → Modify → Connectivity "
        "→ Additional configuration → Not publicly accessible → Continue → "
        "Apply immediately."
    ),
    remediation_cli=(
        "aws rds modify-db-instance --db-instance-identifier <db> "
        "--no-publicly-accessible --apply-immediately"
    ),
    cis=("2.3.3", "2.2.3"),
    security_hub=("RDS.2",),
)
def not_public(r: ResourceView, ctx: Context) -> Result:
    public = r.config.get("PubliclyAccessible")
    if public is True:
        endpoint = (r.config.get("Endpoint") or {}).get("Address", "its endpoint")
        return failed(
            f"PubliclyAccessible is true: {endpoint} resolves to a public IP address"
        )
    if public is False:
        return passed("PubliclyAccessible is false")
    raise NotEvaluable("PubliclyAccessible missing from the collected instance")


@control(
    id="rds.snapshot.not-public",
    title="Manual DB and cluster snapshots are not public",
    section=SECTION,
    severity=Severity.CRITICAL,
    resource_type=DB_SNAPSHOT,
    rationale=(
        "A manual snapshot shared with 'all' can be copied and restored by any "
        "AWS account, which hands over the whole database."
    ),
    remediation=(
        "RDS console → Snapshots → Manual (or the cluster snapshot) → select "
        "the snapshot → Actions → Share snapshot → DB snapshot visibility: "
        "Private (keep only the accounts that need it) → Save."
    ),
    remediation_cli=(
        "aws rds modify-db-snapshot-attribute --db-snapshot-identifier "
        "<snapshot> --attribute-name restore --values-to-remove all"
    ),
    security_hub=("RDS.1",),
)
def snapshot_not_public(r: ResourceView, ctx: Context) -> Result:
    key = (
        "DBClusterSnapshotAttributes"
        if "DBClusterSnapshotIdentifier" in r.config
        else "DBSnapshotAttributes"
    )
    attributes = r.field(key)
    if attributes is None:
        raise NotEvaluable(f"{key} missing from the collected snapshot")
    restorers = [
        str(value)
        for attribute in attributes
        if attribute.get("AttributeName") == "restore"
        for value in attribute.get("AttributeValues") or []
    ]
    if "all" in restorers:
        return failed(
            "restore attribute contains 'all': any AWS account can copy and "
            "restore this snapshot"
        )
    if restorers:
        return passed(
            f"not public; shared with {len(restorers)} account(s): "
            f"{', '.join(sorted(restorers)[:MAX_LISTED])}"
            + (" ..." if len(restorers) > MAX_LISTED else "")
        )
    return passed("not public and not shared with any account")


# -- availability and recovery ------------------------------------------------


@control(
    id="rds.multi-az",
    title="DB instances and clusters are Multi-AZ",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=DB_INSTANCE,
    rationale=(
        "A Multi-AZ deployment keeps a synchronous standby (or cluster members) "
        "in another Availability Zone and fails over to it automatically, so "
        "the loss of one AZ does not take the database down."
    ),
    remediation=(
        "RDS console → Databases → select the instance → Modify → Availability "
        "& durability → Create a standby instance → Continue → Apply "
        "immediately. For an Aurora cluster, add a reader in another AZ "
        "(Actions → Add reader)."
    ),
    remediation_cli=(
        "aws rds modify-db-instance --db-instance-identifier <db> --multi-az "
        "--apply-immediately"
    ),
    cis=("", "2.2.4"),
    security_hub=("RDS.5", "RDS.15"),
)
def multi_az(r: ResourceView, ctx: Context) -> Result:
    config, owner = _settings(r, ctx)
    if config.get("MultiAZ") is True:
        return passed(f"{owner} spans more than one Availability Zone")
    zone = r.config.get("AvailabilityZone") or "one Availability Zone"
    return failed(f"{owner} is not Multi-AZ: it runs only in {zone}")


@control(
    id="rds.backup-retention-7d",
    title="Automated backups are kept 7+ days",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=DB_INSTANCE,
    rationale=(
        "Automated backups, with the transaction logs, allow point-in-time "
        "recovery to any second of the retention period; with less than a week "
        "a problem noticed late can no longer be undone."
    ),
    remediation=(
        "RDS console → Databases → select the instance (or its cluster) → "
        "Modify → Backup → Backup retention period: 7 days or more → Continue "
        "→ Apply immediately."
    ),
    remediation_cli=(
        "aws rds modify-db-instance --db-instance-identifier <db> "
        "--backup-retention-period 7 --apply-immediately"
    ),
    security_hub=("RDS.11",),
)
def backup_retention_7d(r: ResourceView, ctx: Context) -> Result:
    config, owner = _settings(r, ctx)
    source = r.config.get("ReadReplicaSourceDBInstanceIdentifier")
    if owner == "instance" and source:
        # AWS's rule skips read replicas: the source's backups cover them.
        return not_applicable(f"read replica of {source}; backups are kept there")
    days = config.get("BackupRetentionPeriod")
    if days is None:
        raise NotEvaluable("BackupRetentionPeriod missing from the collected data")
    if days >= MIN_BACKUP_RETENTION_DAYS:
        return passed(f"{owner} keeps automated backups for {days} days")
    if days == 0:
        return failed(f"{owner} has automated backups turned off (retention 0)")
    return failed(
        f"{owner} keeps automated backups for {days} day(s), fewer than "
        f"{MIN_BACKUP_RETENTION_DAYS}"
    )


@control(
    id="rds.deletion-protection",
    title="DB instances and clusters have deletion protection",
    section=SECTION,
    severity=Severity.LOW,
    resource_type=DB_INSTANCE,
    rationale=(
        "Deletion protection makes a delete request fail until the setting is "
        "turned off, so a mistaken or malicious call cannot drop the database "
        "in one step."
    ),
    remediation=(
        "RDS console → Databases → select the instance (or its cluster) → "
        "Modify → Deletion protection: Enable → Continue → Apply immediately."
    ),
    remediation_cli=(
        "aws rds modify-db-instance --db-instance-identifier <db> "
        "--deletion-protection --apply-immediately"
    ),
    security_hub=("RDS.8", "RDS.7"),
)
def deletion_protection(r: ResourceView, ctx: Context) -> Result:
    config, owner = _settings(r, ctx)
    if config.get("DeletionProtection") is True:
        return passed(f"{owner} has deletion protection on")
    return failed(f"{owner} can be deleted in one call (DeletionProtection false)")


# -- maintenance, access and logging ------------------------------------------


@control(
    id="rds.auto-minor-upgrade",
    title="Automatic minor version upgrades are on",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=DB_INSTANCE,
    rationale=(
        "AWS patches the database engine, but applies minor versions (which "
        "carry security fixes) in the maintenance window only when automatic "
        "minor version upgrade is on."
    ),
    remediation=(
        "RDS console → Databases → select the instance → Modify → Maintenance → "
        "Enable auto minor version upgrade → Continue → Apply immediately."
    ),
    remediation_cli=(
        "aws rds modify-db-instance --db-instance-identifier <db> "
        "--auto-minor-version-upgrade --apply-immediately"
    ),
    cis=("2.3.2", "2.2.2"),
    security_hub=("RDS.13",),
)
def auto_minor_upgrade(r: ResourceView, ctx: Context) -> Result:
    if r.config.get("AutoMinorVersionUpgrade") is True:
        return passed("automatic minor version upgrades are on")
    version = r.config.get("EngineVersion") or "its current version"
    return failed(
        f"AutoMinorVersionUpgrade is false: the engine stays on {version} "
        "until someone upgrades it"
    )


@control(
    id="rds.iam-auth",
    title="IAM database authentication is on (MySQL/PostgreSQL/MariaDB)",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=DB_INSTANCE,
    rationale=(
        "With IAM database authentication, users connect with short-lived "
        "tokens issued to individual IAM identities instead of long-lived "
        "shared database passwords, and access is granted through IAM."
    ),
    remediation=(
        "RDS console → Databases → select the instance (or its cluster) → "
        "Modify → Database authentication → Password and IAM database "
        "authentication → Continue → Apply immediately."
    ),
    remediation_cli=(
        "aws rds modify-db-instance --db-instance-identifier <db> "
        "--enable-iam-database-authentication --apply-immediately"
    ),
    security_hub=("RDS.10", "RDS.12"),
)
def iam_auth(r: ResourceView, ctx: Context) -> Result:
    engine = str(r.config.get("Engine", ""))
    if engine_family(engine) not in IAM_AUTH_FAMILIES:
        return not_applicable(f"engine {engine} does not support IAM authentication")
    config, owner = _settings(r, ctx)
    if config.get("IAMDatabaseAuthenticationEnabled") is True:
        return passed(f"{owner} accepts IAM database authentication")
    return failed(
        f"{owner} has IAM database authentication off: only database "
        "passwords are accepted"
    )


@control(
    id="rds.logs-exported",
    title="DB logs are published to CloudWatch Logs",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=DB_INSTANCE,
    rationale=(
        "Database error and audit logs published to CloudWatch Logs are kept "
        "beyond the instance's own short log rotation and can be searched, "
        "alarmed on and retained for investigations."
    ),
    remediation=(
        "RDS console → Databases → select the instance (or its cluster) → "
        "Modify → Log exports → tick the engine's audit and error logs (for "
        "PostgreSQL: PostgreSQL log) → Continue → Apply immediately."
    ),
    remediation_cli=(
        "aws rds modify-db-instance --db-instance-identifier <db> "
        "--cloudwatch-logs-export-configuration "
        '\'{"EnableLogTypes":["audit","error"]}\' --apply-immediately'
    ),
    security_hub=("RDS.9",),
)
def logs_exported(r: ResourceView, ctx: Context) -> Result:
    engine = str(r.config.get("Engine", ""))
    required = REQUIRED_LOG_TYPES.get(engine_family(engine))
    if required is None:
        return not_applicable(f"engine {engine} cannot publish logs to CloudWatch")
    config, owner = _settings(r, ctx)
    exported = set(config.get("EnabledCloudwatchLogsExports") or [])
    missing = [log for log in required if log not in exported]
    if not missing:
        return passed(f"{owner} publishes {', '.join(required)} logs to CloudWatch")
    shown = ", ".join(sorted(exported)) or "none"
    return failed(
        f"{owner} does not publish {', '.join(missing)} logs to CloudWatch "
        f"(exported: {shown})"
    )


@control(
    id="rds.tls-enforced",
    title="DB parameter groups force TLS connections",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=DB_PARAMETER_GROUP,
    rationale=(
        "Connections to the database should use SSL/TLS. RDS offers TLS on "
        "every engine but accepts plain-text connections unless the parameter "
        "group forces encryption."
    ),
    remediation=(
        "RDS console → Parameter groups → select the group (create a custom "
        "one if the database uses a default group) → Edit → set rds.force_ssl "
        "to 1 (PostgreSQL, SQL Server) or require_secure_transport to ON "
        "(MySQL, MariaDB) → Save changes, then reboot the databases if asked."
    ),
    remediation_cli=(
        "aws rds modify-db-parameter-group --db-parameter-group-name <group> "
        '--parameters "ParameterName=rds.force_ssl,ParameterValue=1,'
        'ApplyMethod=pending-reboot"'
    ),
    security_hub=("RDS.41", "RDS.44"),
)
def tls_enforced(r: ResourceView, ctx: Context) -> Result:
    engines = r.config.get("Engines") or []
    families = {engine_family(str(e)) for e in engines}
    wanted = sorted({TLS_PARAMETER[f] for f in families if f in TLS_PARAMETER})
    if not wanted:
        return not_applicable(
            f"engine {', '.join(engines) or 'unknown'} has no TLS-forcing "
            "parameter (Oracle and Db2 use option groups or native settings)"
        )
    parameters = r.field("Parameters")
    if parameters is None:
        raise NotEvaluable("parameters missing from the collected parameter group")
    used_by = f"used by {', '.join(r.config.get('AttachedTo') or []) or 'nothing'}"
    problems = []
    for name in wanted:
        value = (parameters.get(name) or {}).get("ParameterValue")
        if value is None:
            problems.append(f"{name} is not set (engine default)")
        elif str(value).strip().lower() not in TLS_ON_VALUES:
            problems.append(f"{name} = {value}")
    if problems:
        return failed(
            f"{'; '.join(problems)}: plain-text connections are accepted ({used_by})"
        )
    settings = ", ".join(f"{n} = {parameters[n]['ParameterValue']}" for n in wanted)
    return passed(f"{settings} ({used_by})")


# -- network ------------------------------------------------------------------


def _public_ingress(group: ResourceView) -> list[str]:
    """Inbound rules of a security group that admit any address."""
    rules = group.field("SecurityGroupRules")
    if rules is None:
        raise NotEvaluable(f"rules of security group {group.resource_id} missing")
    found = []
    for rule in rules:
        if rule.get("IsEgress"):
            continue
        if rule.get("CidrIpv4") == ANY_IPV4:
            source = ANY_IPV4
        elif rule.get("CidrIpv6") == ANY_IPV6:
            source = ANY_IPV6
        else:
            continue
        protocol, low, high = (
            rule.get(k) for k in ("IpProtocol", "FromPort", "ToPort")
        )
        ports = f"{low}" if low == high else f"{low}-{high}"
        what = "all traffic" if protocol == "-1" else f"{protocol} {ports}"
        found.append(f"{rule.get('SecurityGroupRuleId')} allows {source} on {what}")
    return found


@control(
    id="rds.sg-no-public-ingress",
    title="DB security groups do not admit 0.0.0.0/0 or ::/0",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=DB_INSTANCE,
    rationale=(
        "Security groups are the database's firewall. An inbound rule from "
        "0.0.0.0/0 or ::/0 lets any address reach the database port, leaving "
        "only the database's own authentication in the way."
    ),
    remediation=(
        "EC2 console → Security Groups → select the database's group → Inbound "
        "rules → Edit inbound rules → replace the 0.0.0.0/0 or ::/0 source "
        "with the application's security group or address range → Save rules."
    ),
    remediation_cli=(
        "aws ec2 revoke-security-group-ingress --group-id <sg-id> "
        "--security-group-rule-ids <sgr-id>"
    ),
)
def sg_no_public_ingress(r: ResourceView, ctx: Context) -> Result:
    wanted = [
        g["VpcSecurityGroupId"]
        for g in r.config.get("VpcSecurityGroups") or []
        if g.get("VpcSecurityGroupId")
    ]
    if not wanted:
        return passed("instance has no VPC security groups")
    groups = {g.resource_id: g for g in ctx.resources(SECURITY_GROUP, r.region)}
    offending = []
    for group_id in wanted:
        group = groups.get(group_id)
        if group is None:
            raise NotEvaluable(f"security group {group_id} was not collected")
        label = f"{group_id} ({group.name})" if group.name else group_id
        offending += [f"{label}: {text}" for text in _public_ingress(group)]
    if offending:
        more = len(offending) - MAX_LISTED
        return failed(
            "; ".join(offending[:MAX_LISTED]) + (f" (+{more} more)" if more > 0 else "")
        )
    return passed(
        f"no inbound rule from 0.0.0.0/0 or ::/0 in {', '.join(sorted(wanted))}"
    )
