"""AWS Backup controls: plans with selections, encrypted and locked backups,
and the EBS volumes, RDS databases and DynamoDB tables that are backed up.

The whitepaper's backup lines (EBS snapshots, RDS automated backups and
snapshots, Redshift snapshots to S3) all come down to: the data exists a
second time, safe from the mistake or attacker that destroys the first copy.
"""

from findings.controls.base import (
    ERRORS_KEY,
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

SECTION = "business-continuity/backup"
BACKUP_PLAN = "AWS::Backup::BackupPlan"
BACKUP_VAULT = "AWS::Backup::BackupVault"
PROTECTED_RESOURCES = "AWS::Backup::ProtectedResources"

VOLUME = "AWS::EC2::Volume"
DB_INSTANCE = "AWS::RDS::DBInstance"
TABLE = "AWS::DynamoDB::Table"

# Dashboard tag convention: vaults holding critical data.
CRITICAL_TAG = ("criticality", "high")
# How many offending resources a reason names before "+N more".
NAMED = 3


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _listing(names: list[str]) -> str:
    more = f" (+{len(names) - NAMED} more)" if len(names) > NAMED else ""
    return ", ".join(names[:NAMED]) + more


@control(
    id="backup.plan-with-selection",
    title="At least one backup plan selects resources",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=BACKUP_PLAN,
    rationale=(
        "Backups are the copy of the data that survives the loss of the first. "
        "An AWS Backup plan backs up nothing until a backup selection assigns "
        "resources to it, by ARN or by tag."
    ),
    remediation=(
        "AWS Backup console (in each region) → Backup plans → choose or create "
        "a plan → Resource assignments → Assign resources → choose the IAM "
        "role and the resources by type, ARN or tag (for example backup=daily) "
        "→ Assign resources."
    ),
    remediation_cli=(
        "aws backup create-backup-selection --backup-plan-id <plan-id> "
        "--backup-selection file://selection.json"
    ),
)
def plan_with_selection(r: ResourceView, ctx: Context) -> Result:
    plans = r.config.get("BackupPlans", [])
    for plan in plans:
        selections = plan.get("BackupSelections") or []
        if selections:
            return passed(
                f"backup plan {plan.get('BackupPlanName')} has "
                f"{_plural(len(selections), 'backup selection')}"
            )
    unread = [p for p in plans if p.get("BackupSelections") is None]
    if unread:
        errors = r.config.get(ERRORS_KEY, {})
        why = errors.get(f"BackupSelections:{unread[0].get('BackupPlanId')}", "")
        raise NotEvaluable(
            f"the selections of plan {unread[0].get('BackupPlanName')} could not "
            f"be read ({why})"
        )
    if not plans:
        return failed(f"no AWS Backup plan in {r.region}")
    names = [str(p.get("BackupPlanName")) for p in plans]
    return failed(
        f"{_plural(len(plans), 'backup plan')} ({_listing(names)}) but none "
        "selects any resource"
    )


@control(
    id="backup.recovery-points-encrypted",
    title="Backup recovery points are encrypted",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=BACKUP_VAULT,
    rationale=(
        "Sensitive data should be encrypted, and a backup holds the same data "
        "as its source. A recovery point taken from an unencrypted volume or "
        "database is itself unencrypted."
    ),
    remediation=(
        "Encrypt the source (for EBS, copy the snapshot with encryption on and "
        "restore from it; for RDS, restore an encrypted copy), then AWS Backup "
        "console → Backup vaults → choose the vault → delete the unencrypted "
        "recovery points once an encrypted copy exists."
    ),
    remediation_cli=(
        "aws backup start-copy-job --recovery-point-arn <recovery-point-arn> "
        "--source-backup-vault-name <vault> --destination-backup-vault-arn "
        "<encrypted-vault-arn> --iam-role-arn <role-arn>"
    ),
    security_hub=("Backup.1",),
)
def recovery_points_encrypted(r: ResourceView, ctx: Context) -> Result:
    unencrypted = r.field("UnencryptedRecoveryPoints")
    if unencrypted is None:
        raise NotEvaluable("the vault's recovery points were not listed")
    if not unencrypted:
        if not r.config.get("HasRecoveryPoints"):
            return not_applicable("the vault holds no recovery points")
        return passed("every recovery point in the vault is encrypted")
    sources = [
        f"{p.get('ResourceType', '?')} {p.get('ResourceName') or p.get('ResourceArn')}"
        for p in unencrypted
    ]
    return failed(
        f"{_plural(len(unencrypted), 'recovery point')} not encrypted: backups "
        f"of {_listing(sources)}"
    )


@control(
    id="backup.vault-locked",
    title="Backup vaults holding critical data are locked",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=BACKUP_VAULT,
    rationale=(
        "A backup protects against an attacker only if the attacker cannot "
        "delete it too. Vault Lock with a minimum retention stops anyone, the "
        "root user included, from deleting recovery points early."
    ),
    remediation=(
        "AWS Backup console → Backup vaults → choose the vault → Vault lock → "
        "Create vault lock → set minimum (and maximum) retention, choose "
        "compliance mode with a grace time → Create. Only vaults tagged "
        "criticality=high are checked."
    ),
    remediation_cli=(
        "aws backup put-backup-vault-lock-configuration --backup-vault-name "
        "<vault> --min-retention-days 35 --changeable-for-days 3"
    ),
)
def vault_locked(r: ResourceView, ctx: Context) -> Result:
    r.field("Tags")  # ERROR when the vault's tags could not be read
    key, value = CRITICAL_TAG
    if str(r.tags.get(key, "")).strip().lower() != value:
        return not_applicable(f"not tagged {key}={value}")
    if r.config.get("Locked") is not True:
        return failed(f"tagged {key}={value} but Vault Lock is not applied")
    minimum = r.config.get("MinRetentionDays")
    if not minimum:
        return failed("Vault Lock is applied without a minimum retention period")
    mode = "compliance mode" if r.config.get("LockDate") else "governance mode"
    return passed(f"Vault Lock ({mode}) keeps recovery points {minimum}+ days")


def _candidates(
    ctx: Context, region: str, unknown: list[str]
) -> list[tuple[str, set[str]]]:
    """(label, ARNs that count as protection) of every resource to protect."""
    found: list[tuple] = []
    kinds = (
        (VOLUME, "EBS volume"),
        (DB_INSTANCE, "RDS DB instance"),
        (TABLE, "DynamoDB table"),
    )
    for resource_type, kind in kinds:
        try:
            views = ctx.resources(resource_type, region=region)
        except NotEvaluable as exc:
            unknown.append(f"{kind}s ({exc})")
            continue
        for view in views:
            config = view.config
            if resource_type == VOLUME and config.get("State") != "in-use":
                continue
            arn = (
                view.arn
                or config.get("DBInstanceArn")
                or config.get("TableArn")
                or view.resource_id
            )
            arns = {arn}
            cluster = config.get("DBClusterIdentifier")
            if resource_type == DB_INSTANCE and cluster and ":db:" in arn:
                # Aurora is backed up per cluster, not per instance.
                arns.add(arn.split(":db:")[0] + f":cluster:{cluster}")
            found.append((f"{kind} {view.label}", arns))
    return found


@control(
    id="backup.resources-protected",
    title="EBS volumes, RDS databases and DynamoDB tables are in a backup plan",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=PROTECTED_RESOURCES,
    rationale=(
        "EBS volumes, RDS databases and DynamoDB tables hold the data a "
        "workload cannot lose. Each should have a recent backup taken by an "
        "AWS Backup plan, not depend on someone remembering a snapshot."
    ),
    remediation=(
        "AWS Backup console → Backup plans → choose a plan → Assign resources "
        "→ include the volumes, DB instances and tables by resource type or "
        "by tag, and check Jobs → Backup jobs for failures."
    ),
    remediation_cli=(
        "aws backup create-backup-selection --backup-plan-id <plan-id> "
        "--backup-selection file://selection.json"
    ),
    security_hub=("EC2.28*", "RDS.26*", "DynamoDB.4*"),
)
def resources_protected(r: ResourceView, ctx: Context) -> Result:
    protected = {p.get("ResourceArn"): p for p in r.field("ProtectedResources") or []}
    if "ProtectedResources" not in r.config:
        raise NotEvaluable("AWS Backup's protected resources were not listed")
    unknown: list[str] = []
    candidates = _candidates(ctx, r.region, unknown)
    never, stale = [], []
    for label, arns in sorted(candidates, key=lambda c: c[0]):
        entries = [protected[a] for a in arns if a in protected]
        if not entries:
            never.append(label)
        elif not any(e.get("BackedUpInLast48Hours") for e in entries):
            last = str(entries[0].get("LastBackupTime") or "")[:10] or "unknown"
            stale.append(f"{label} (last {last})")
    problems = []
    if never:
        problems.append(f"never backed up by AWS Backup: {_listing(never)}")
    if stale:
        problems.append(f"no backup in the last 48 h: {_listing(stale)}")
    if problems:
        return failed("; ".join(problems))
    if unknown:
        raise NotEvaluable("not collected: " + "; ".join(unknown))
    if not candidates:
        return not_applicable(
            f"no in-use EBS volumes, RDS DB instances or DynamoDB tables in {r.region}"
        )
    return passed(
        f"all {_plural(len(candidates), 'resource')} backed up by AWS Backup "
        "within 48 h"
    )
