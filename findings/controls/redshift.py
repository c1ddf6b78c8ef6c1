"""Amazon Redshift controls: exposure, encryption, audit logging, SSL, recovery.

The whitepaper's Redshift notes: clusters are closed by default and run
inside a VPC, access is granted at the database level, and data is backed up
to S3 with automated and user snapshots.
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

SECTION = "service/database/redshift"
CLUSTER = "AWS::Redshift::Cluster"
MIN_SNAPSHOT_RETENTION_DAYS = 7


@control(
    id="redshift.not-public",
    title="Clusters are not publicly accessible",
    section=SECTION,
    severity=Severity.CRITICAL,
    resource_type=CLUSTER,
    rationale=(
        "Redshift clusters are closed by default and belong inside a VPC; a "
        "publicly accessible cluster gets a public IP address, so only its "
        "security groups stand between the data warehouse and the internet."
    ),
    remediation=(
        "Redshift console → Clusters → select the cluster → Actions → Modify "
        "publicly accessible setting → Turn off Publicly accessible → Save "
        "changes."
    ),
    remediation_cli=(
        "aws redshift modify-cluster --cluster-identifier <cluster> "
        "--no-publicly-accessible"
    ),
    security_hub=("Redshift.1",),
)
def not_public(r: ResourceView, ctx: Context) -> Result:
    public = r.config.get("PubliclyAccessible")
    if public is True:
        return failed(
            "PubliclyAccessible is true: the cluster endpoint resolves to a "
            "public IP address"
        )
    if public is False:
        return passed("PubliclyAccessible is false")
    raise NotEvaluable("PubliclyAccessible missing from the collected cluster")


@control(
    id="redshift.encrypted",
    title="Clusters are encrypted at rest",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=CLUSTER,
    rationale=(
        "Sensitive data should be encrypted. An encrypted cluster protects its "
        "data blocks, system metadata and snapshots with a KMS key."
    ),
    remediation=(
        "Redshift console → Clusters → select the cluster → Properties → "
        "Database configurations → Edit encryption → Use AWS Key Management "
        "Service (AWS KMS) → choose a key → Save changes."
    ),
    remediation_cli=(
        "aws redshift modify-cluster --cluster-identifier <cluster> --encrypted "
        "--kms-key-id <key>"
    ),
    security_hub=("Redshift.10",),
)
def encrypted(r: ResourceView, ctx: Context) -> Result:
    if r.config.get("Encrypted") is True:
        key = r.config.get("KmsKeyId") or "an AWS managed key"
        return passed(f"cluster is encrypted with {key}")
    return failed("cluster is not encrypted at rest (Encrypted false)")


@control(
    id="redshift.audit-logging",
    title="Audit logging is enabled",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=CLUSTER,
    rationale=(
        "Audit logging records connection attempts, user changes and queries, "
        "the trail needed to investigate who accessed the data warehouse and "
        "what they ran."
    ),
    remediation=(
        "Redshift console → Clusters → select the cluster → Properties → "
        "Database configurations → Edit audit logging → Turn on → choose S3 or "
        "CloudWatch and the log types → Save changes."
    ),
    remediation_cli=(
        "aws redshift enable-logging --cluster-identifier <cluster> "
        "--log-destination-type cloudwatch "
        "--log-exports connectionlog userlog useractivitylog"
    ),
    security_hub=("Redshift.4",),
)
def audit_logging(r: ResourceView, ctx: Context) -> Result:
    status = r.field("LoggingStatus")
    if status is None:
        raise NotEvaluable("logging status missing from the collected cluster")
    if status.get("LoggingEnabled") is not True:
        return failed("audit logging is off (LoggingEnabled false)")
    if status.get("LogDestinationType") == "cloudwatch":
        exports = ", ".join(status.get("LogExports") or []) or "no log types"
        return passed(f"audit logs go to CloudWatch Logs ({exports})")
    bucket = status.get("BucketName") or "an S3 bucket"
    prefix = status.get("S3KeyPrefix") or ""
    return passed(f"audit logs go to s3://{bucket}/{prefix}")


@control(
    id="redshift.require-ssl",
    title="Connections must use SSL",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=CLUSTER,
    rationale=(
        "Connections should use SSL/TLS. Redshift accepts plain-text client "
        "connections unless the cluster's parameter group sets require_ssl."
    ),
    remediation=(
        "Redshift console → Configurations → Workload management → select the "
        "cluster's parameter group (create one if it uses "
        "default.redshift-1.0) → Parameters → Edit → require_ssl: true → Save; "
        "associate it with the cluster and reboot the cluster."
    ),
    remediation_cli=(
        "aws redshift modify-cluster-parameter-group --parameter-group-name "
        "<group> --parameters ParameterName=require_ssl,ParameterValue=true"
    ),
    security_hub=("Redshift.2",),
)
def require_ssl(r: ResourceView, ctx: Context) -> Result:
    parameter = r.field("RequireSsl")
    groups = r.config.get("ClusterParameterGroups") or []
    group = groups[0].get("ParameterGroupName") if groups else None
    if parameter is None:
        if group is None:
            raise NotEvaluable("the cluster's parameter group is unknown")
        return failed(f"require_ssl is not set in parameter group {group}")
    value = str(parameter.get("ParameterValue", "")).strip().lower()
    group = parameter.get("ParameterGroupName") or group
    if value != "true":
        return failed(
            f"require_ssl = {parameter.get('ParameterValue')} in parameter group "
            f"{group}: plain-text connections are accepted"
        )
    pending = [
        s.get("ParameterApplyStatus")
        for g in groups
        for s in g.get("ClusterParameterStatusList") or []
        if s.get("ParameterName") == "require_ssl"
        and s.get("ParameterApplyStatus") not in (None, "in-sync")
    ]
    if pending:
        return failed(
            f"require_ssl = true in parameter group {group} is not applied yet "
            f"({pending[0]}): plain-text connections are still accepted"
        )
    return passed(f"require_ssl = true in parameter group {group}")


@control(
    id="redshift.automated-snapshots",
    title="Automated snapshots are kept 7+ days",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=CLUSTER,
    rationale=(
        "Redshift backs clusters up to S3 with automated snapshots; keeping "
        "them for at least a week allows recovery from a problem noticed days "
        "later."
    ),
    remediation=(
        "Redshift console → Clusters → select the cluster → Maintenance → "
        "Backup details → Edit → Automated snapshot retention period: 7 days "
        "or more → Save changes."
    ),
    remediation_cli=(
        "aws redshift modify-cluster --cluster-identifier <cluster> "
        "--automated-snapshot-retention-period 7"
    ),
    security_hub=("Redshift.3",),
)
def automated_snapshots(r: ResourceView, ctx: Context) -> Result:
    days = r.config.get("AutomatedSnapshotRetentionPeriod")
    if days is None:
        raise NotEvaluable("AutomatedSnapshotRetentionPeriod missing from the cluster")
    if days >= MIN_SNAPSHOT_RETENTION_DAYS:
        return passed(f"automated snapshots are kept for {days} days")
    if days == 0:
        return failed("automated snapshots are turned off (retention 0)")
    return failed(
        f"automated snapshots are kept for {days} day(s), fewer than "
        f"{MIN_SNAPSHOT_RETENTION_DAYS}"
    )


@control(
    id="redshift.enhanced-vpc-routing",
    title="Enhanced VPC routing keeps COPY/UNLOAD inside the VPC",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=CLUSTER,
    rationale=(
        "With enhanced VPC routing, COPY and UNLOAD traffic between the cluster "
        "and S3 goes through the VPC, where security groups, endpoint policies "
        "and flow logs apply, instead of over the internet."
    ),
    remediation=(
        "Redshift console → Clusters → select the cluster → Properties → "
        "Network and security settings → Edit → Enhanced VPC routing: Turn on "
        "→ Save changes."
    ),
    remediation_cli=(
        "aws redshift modify-cluster --cluster-identifier <cluster> "
        "--enhanced-vpc-routing"
    ),
    security_hub=("Redshift.7",),
)
def enhanced_vpc_routing(r: ResourceView, ctx: Context) -> Result:
    if r.config.get("EnhancedVpcRouting") is True:
        return passed("enhanced VPC routing is on")
    return failed("enhanced VPC routing is off: COPY and UNLOAD traffic leaves the VPC")
