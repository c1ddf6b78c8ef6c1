"""Amazon DynamoDB tables and DynamoDB Accelerator (DAX) clusters.

Two collectors, so that a DAX failure never hides the tables and the other
way round:

- ``dynamodb``: one ``AWS::DynamoDB::Table`` record per table with the
  DescribeTable answer under ``Table`` and DescribeContinuousBackups under
  ``ContinuousBackupsDescription``. Item counts, sizes and restore-window
  times change with every write; they are dropped to keep unchanged tables'
  snapshots unchanged.
- ``dax``: one ``AWS::DAX::Cluster`` record per cluster. DAX is offered in
  fewer regions than DynamoDB; a region botocore knows but where DAX has no
  endpoint has no clusters and yields nothing (rather than failing the unit
  on a connection error every scan).
"""

from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import UnknownRegionError

from collectors.base import (
    ERRORS_KEY,
    Collector,
    ResourceRecord,
    register,
    to_jsonable,
)

TABLE = "AWS::DynamoDB::Table"
DAX_CLUSTER = "AWS::DAX::Cluster"

TABLE_NOT_FOUND = "ResourceNotFoundException"
# Change with the data, not the configuration.
VOLATILE_TABLE_FIELDS = ("ItemCount", "TableSizeBytes")
VOLATILE_INDEX_FIELDS = ("ItemCount", "IndexSizeBytes")
VOLATILE_THROUGHPUT_FIELDS = (
    "NumberOfDecreasesToday",
    "LastIncreaseDateTime",
    "LastDecreaseDateTime",
)
VOLATILE_PITR_FIELDS = ("EarliestRestorableDateTime", "LatestRestorableDateTime")
# Per-node state (status, endpoints, reboot flags) of a DAX cluster's nodes.
VOLATILE_DAX_FIELDS = ("Nodes", "ActiveNodes", "NodeIdsToRemove")


def _without(item: dict, keys: tuple[str, ...]) -> dict:
    return {k: v for k, v in item.items() if k not in keys}


def stable_table(table: dict) -> dict:
    """DescribeTable's answer without the values that move with the data."""
    stable = _without(table, VOLATILE_TABLE_FIELDS)
    if "ProvisionedThroughput" in stable:
        stable["ProvisionedThroughput"] = _without(
            stable["ProvisionedThroughput"], VOLATILE_THROUGHPUT_FIELDS
        )
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if key not in stable:
            continue
        indexes = []
        for index in stable[key]:
            index = _without(index, VOLATILE_INDEX_FIELDS)
            if "ProvisionedThroughput" in index:
                index["ProvisionedThroughput"] = _without(
                    index["ProvisionedThroughput"], VOLATILE_THROUGHPUT_FIELDS
                )
            indexes.append(index)
        stable[key] = indexes
    return stable


@register
class DynamoDBCollector(Collector):
    service = "dynamodb"
    resource_types = (TABLE,)

    def collect(self) -> Iterator[ResourceRecord]:
        dynamodb = self.client("dynamodb")
        for name in self.paginate(dynamodb, "list_tables", "TableNames"):
            record = self._table(dynamodb, name)
            if record is not None:
                yield record

    def _table(self, dynamodb: BaseClient, name: str) -> ResourceRecord | None:
        errors: dict[str, str] = {}
        described = self.optional(
            errors,
            "Table",
            dynamodb.describe_table,
            absent=(TABLE_NOT_FOUND,),
            TableName=name,
        )
        if described is None and "Table" not in errors:
            return None  # deleted between the listing and now
        table = stable_table(described["Table"]) if described else None
        backups = self.optional(
            errors,
            "ContinuousBackupsDescription",
            dynamodb.describe_continuous_backups,
            TableName=name,
        )
        continuous = None
        if backups is not None:
            continuous = dict(backups.get("ContinuousBackupsDescription") or {})
            pitr = continuous.get("PointInTimeRecoveryDescription")
            if pitr is not None:
                continuous["PointInTimeRecoveryDescription"] = _without(
                    pitr, VOLATILE_PITR_FIELDS
                )
        arn = (table or {}).get("TableArn") or self._arn(name)
        tags = self._tags(dynamodb, arn, errors)
        config: dict[str, Any] = to_jsonable(
            {"Table": table, "ContinuousBackupsDescription": continuous}
        )
        if errors:
            config[ERRORS_KEY] = errors
        return ResourceRecord(
            resource_type=TABLE,
            resource_id=name,
            config=config,
            arn=arn,
            name=name,
            tags=tags,
        )

    def _tags(
        self, dynamodb: BaseClient, arn: str, errors: dict[str, str]
    ) -> dict[str, str]:
        def drain() -> dict:
            listing = self.paginate(
                dynamodb, "list_tags_of_resource", "Tags", ResourceArn=arn
            )
            return {t["Key"]: t.get("Value", "") for t in listing}

        return self.optional(errors, "Tags", drain) or {}

    def _arn(self, name: str) -> str:
        partition = self.session.get_partition_for_region(self.client_region)
        return (
            f"arn:{partition}:dynamodb:{self.client_region}:{self.account_id}:"
            f"table/{name}"
        )


@register
class DAXCollector(Collector):
    service = "dax"
    resource_types = (DAX_CLUSTER,)

    def collect(self) -> Iterator[ResourceRecord]:
        if not self._offered_here():
            return
        dax = self.client("dax")
        for cluster in self.paginate(dax, "describe_clusters", "Clusters"):
            name = cluster["ClusterName"]
            config = to_jsonable(_without(cluster, VOLATILE_DAX_FIELDS))
            yield ResourceRecord(
                resource_type=DAX_CLUSTER,
                resource_id=name,
                config=config,
                arn=cluster.get("ClusterArn", ""),
                name=name,
            )

    def _offered_here(self) -> bool:
        try:
            partition = self.session.get_partition_for_region(self.client_region)
        except UnknownRegionError:
            return True  # newer than this botocore: try it rather than assume
        known = self.session.get_available_regions("ec2", partition)
        if self.client_region not in known:
            return True
        return self.client_region in self.session.get_available_regions(
            "dax", partition
        )
