"""AWS Backup: plans and their selections, vaults, and what has been backed up.

Three record types per region:

- ``AWS::Backup::BackupPlan``: one record per region (resource id = the
  region) listing every plan with its backup selections, so a region without
  any plan still has a record and the "a plan selects resources" control can
  FAIL there.
- ``AWS::Backup::BackupVault``: one record per vault, with its lock settings,
  tags, and the recovery points in it that are not encrypted. Only those are
  kept: the full list grows with every backup job and would rewrite the
  snapshot on each scan.
- ``AWS::Backup::ProtectedResources``: one record per region with every
  resource AWS Backup has protected and whether its last backup is recent.
  LastBackupTime changes with every backup, so it is reduced to "within the
  last 48 hours" against the scan's clock and kept only once it is older (it
  is then frozen until the next backup).

Listings that feed a region-level or vault record are sub-calls: a failure is
recorded in that record's ``_errors`` and its controls report ERROR.
"""

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from botocore.client import BaseClient

from collectors.base import (
    ERRORS_KEY,
    Collector,
    ResourceRecord,
    register,
    to_jsonable,
)

BACKUP_PLAN = "AWS::Backup::BackupPlan"
BACKUP_VAULT = "AWS::Backup::BackupVault"
PROTECTED_RESOURCES = "AWS::Backup::ProtectedResources"

RECENT_BACKUP = timedelta(hours=48)

PLAN_FIELDS = (
    "BackupPlanId",
    "BackupPlanName",
    "BackupPlanArn",
    "VersionId",
    "CreationDate",
    "AdvancedBackupSettings",
)
SELECTION_FIELDS = ("SelectionId", "SelectionName", "IamRoleArn", "CreationDate")
# NumberOfRecoveryPoints moves with every backup job.
VAULT_VOLATILE = ("NumberOfRecoveryPoints",)
RECOVERY_POINT_FIELDS = (
    "RecoveryPointArn",
    "ResourceArn",
    "ResourceType",
    "ResourceName",
    "CreationDate",
    "Status",
)


def _pick(item: dict, fields: tuple[str, ...]) -> dict:
    return to_jsonable({k: item[k] for k in fields if k in item})


@register
class BackupCollector(Collector):
    service = "backup"
    resource_types = (BACKUP_PLAN, BACKUP_VAULT, PROTECTED_RESOURCES)

    def collect(self) -> Iterator[ResourceRecord]:
        backup = self.client("backup")
        yield self._plans(backup)
        for vault in self.paginate(backup, "list_backup_vaults", "BackupVaultList"):
            yield self._vault(backup, vault)
        yield self._protected_resources(backup)

    def _drain(
        self, client: BaseClient, operation: str, result_key: str, **kwargs: Any
    ) -> dict:
        """Every page of a sub-listing as one response, for ``optional``."""
        return {
            result_key: list(self.paginate(client, operation, result_key, **kwargs))
        }

    def _plans(self, backup: BaseClient) -> ResourceRecord:
        errors: dict[str, str] = {}
        plans = []
        for plan in self.paginate(backup, "list_backup_plans", "BackupPlansList"):
            plan_id = plan["BackupPlanId"]
            item = _pick(plan, PLAN_FIELDS)
            selections = self.optional(
                errors,
                f"BackupSelections:{plan_id}",
                self._drain,
                client=backup,
                operation="list_backup_selections",
                result_key="BackupSelectionsList",
                BackupPlanId=plan_id,
            )
            item["BackupSelections"] = (
                None
                if selections is None
                else sorted(
                    (
                        _pick(s, SELECTION_FIELDS)
                        for s in selections["BackupSelectionsList"]
                    ),
                    key=lambda s: s["SelectionId"],
                )
            )
            plans.append(item)
        config: dict[str, Any] = {
            "BackupPlans": sorted(plans, key=lambda p: p["BackupPlanId"])
        }
        if errors:
            config[ERRORS_KEY] = errors
        return ResourceRecord(
            resource_type=BACKUP_PLAN,
            resource_id=self.region,
            config=config,
            name=f"AWS Backup plans in {self.region}",
        )

    def _vault(self, backup: BaseClient, vault: dict) -> ResourceRecord:
        name = vault["BackupVaultName"]
        arn = vault["BackupVaultArn"]
        errors: dict[str, str] = {}
        config = {
            k: v for k, v in to_jsonable(vault).items() if k not in VAULT_VOLATILE
        }

        tagged = self.optional(
            errors,
            "Tags",
            self._all_tags,
            backup=backup,
            arn=arn,
        )
        points = self.optional(
            errors,
            "UnencryptedRecoveryPoints",
            self._drain,
            client=backup,
            operation="list_recovery_points_by_backup_vault",
            result_key="RecoveryPoints",
            BackupVaultName=name,
        )
        if points is not None:
            listed = points["RecoveryPoints"]
            config["HasRecoveryPoints"] = bool(listed)
            unencrypted = [p for p in listed if not p.get("IsEncrypted")]
            config["UnencryptedRecoveryPoints"] = sorted(
                (_pick(p, RECOVERY_POINT_FIELDS) for p in unencrypted),
                key=lambda p: p["RecoveryPointArn"],
            )
        if errors:
            config[ERRORS_KEY] = errors
        return ResourceRecord(
            resource_type=BACKUP_VAULT,
            resource_id=name,
            config=config,
            arn=arn,
            name=name,
            tags=tagged or {},
        )

    def _all_tags(self, backup: BaseClient, arn: str) -> dict[str, str]:
        # ListTags pages with NextToken but botocore has no paginator for it.
        tags: dict[str, str] = {}
        token: dict[str, str] = {}
        while True:
            page = backup.list_tags(ResourceArn=arn, **token)
            tags.update(page.get("Tags") or {})
            if not page.get("NextToken"):
                return tags
            token = {"NextToken": page["NextToken"]}

    def _protected_resources(self, backup: BaseClient) -> ResourceRecord:
        errors: dict[str, str] = {}
        listed = self.optional(
            errors,
            "ProtectedResources",
            self._drain,
            client=backup,
            operation="list_protected_resources",
            result_key="Results",
        )
        config: dict[str, Any] = {}
        if listed is not None:
            config["ProtectedResources"] = sorted(
                (self._protection(item) for item in listed["Results"]),
                key=lambda p: p["ResourceArn"],
            )
        if errors:
            config[ERRORS_KEY] = errors
        return ResourceRecord(
            resource_type=PROTECTED_RESOURCES,
            resource_id=self.region,
            config=config,
            name=f"Resources protected by AWS Backup in {self.region}",
        )

    def _protection(self, item: dict) -> dict:
        last: datetime | None = item.get("LastBackupTime")
        recent = last is not None and self.now - last <= RECENT_BACKUP
        entry = _pick(item, ("ResourceArn", "ResourceType", "ResourceName"))
        entry["BackedUpInLast48Hours"] = recent
        if not recent and last is not None:
            entry["LastBackupTime"] = to_jsonable(last)
        return entry
